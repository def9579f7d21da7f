/**
 * IP literal <-> bytes, without node:net (this runs in Workers too).
 * IPv6 is formatted in RFC 5952 canonical form, the form Node reports in rinfo.
 */

export function decodeIpLiteral(s: string): Uint8Array | undefined {
  return s.includes(":") ? decodeIpv6(s) : decodeIpv4(s);
}

function decodeIpv4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

function decodeIpv6(input: string): Uint8Array | undefined {
  let s = input;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (s.includes("%")) return undefined; // zone ids are not routable across hosts
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes(".")) {
        const v4 = decodeIpv4(g);
        if (!v4) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        groups.push(Number.parseInt(g, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1 && head.length !== 8) return undefined;
  if (halves.length === 2 && head.length + tail.length > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >>> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  return out;
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first on ties.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/**
 * "1.2.3.4:5" or "[v6]:5" with an IP literal host, the address in its canonical form; undefined
 * otherwise. `bind`: an address a socket binds to, where port 0 means any free port.
 */
export function parseEndpoint(
  s: string,
  o: { bind?: boolean } = {},
): { address: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const address = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (port < (o.bind ? 0 : 1) || port > 65535 || !decodeIpLiteral(address)) return undefined;
  return { address: formatIp(decodeIpLiteral(address)!), port };
}

export function formatEndpoint(e: { address: string; port: number }): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}

/** The any-address a socket binds to: not an address anyone can reach. */
export function isUnspecifiedIp(a: string): boolean {
  return a === "0.0.0.0" || a === "::";
}
