/**
 * How the two relay tiers know each other, from configuration (never from a
 * lookup on the packet path):
 *
 *   ingress   --clusters 1=10.0.0.5:3479,2=10.1.0.5:3479   where each cluster's relay listens
 *   cluster   --ingresses 10.0.0.0/16,192.0.2.7             which addresses may send it encapsulated datagrams
 *
 * Parsers throw errors that name the bad entry, for the operator.
 */
import { commaList } from "../../shared/comma-list.ts";
import type { Endpoint } from "../../shared/hint.ts";
import { decodeIpLiteral, familyOf, formatEndpoint, formatIp, parseEndpoint } from "../../shared/ip.ts";
import { v4Part } from "./flow.ts";

/** "1=10.0.0.5:3479,2=[fd00::5]:3479": cluster id -> that cluster's relay. */
export function parseClusterMap(spec: string): Map<number, Endpoint> {
  const out = new Map<number, Endpoint>();
  const entries = commaList(spec);
  if (entries.length === 0) throw new Error("no clusters: expected id=host:port[,id=host:port]");
  for (const entry of entries) {
    const m = /^(\d{1,5})=(.+)$/.exec(entry);
    if (!m) throw new Error(`"${entry}" is not id=host:port (e.g. 1=10.0.0.5:3479)`);
    const id = Number(m[1]);
    if (id > 65535) throw new Error(`"${entry}": cluster id ${id} is not 0..65535`);
    const at = parseEndpoint(m[2]!);
    if (!at || at.port === 0)
      throw new Error(`"${entry}": ${m[2]} is not host:port with an IP literal and a port 1..65535`);
    if (out.has(id)) throw new Error(`cluster ${id} is listed twice`);
    out.set(id, at);
  }
  return out;
}

export function formatClusterMap(m: ReadonlyMap<number, Endpoint>): string {
  return [...m].map(([id, at]) => `${id}=${formatEndpoint(at)}`).join(",");
}

/** Checks that every cluster relay can be reached from an internal socket of `family`. */
export function checkClusterFamilies(m: ReadonlyMap<number, Endpoint>, family: 4 | 6): void {
  for (const [id, at] of m)
    if (familyOf(at.address) !== family)
      throw new Error(
        `cluster ${id}'s relay ${formatEndpoint(at)} is IPv${familyOf(at.address)}, the internal socket IPv${family}`,
      );
}

interface AddressRule {
  bytes: Uint8Array;
  /** Prefix length in bits. */
  bits: number;
  /** 0: any port. */
  port: number;
  text: string;
}

/**
 * A set of sender addresses: IP literals (any port), host:port, or CIDR
 * prefixes ("10.0.0.0/8", "fd00::/8"). IPv4-mapped IPv6 senders match IPv4
 * rules. Checked only when a sender is new to a flow, never per datagram.
 */
export class AddressSet {
  private readonly rules: AddressRule[];

  private constructor(rules: AddressRule[]) {
    this.rules = rules;
  }

  static parse(spec: string): AddressSet {
    const rules: AddressRule[] = [];
    const entries = commaList(spec);
    if (entries.length === 0) throw new Error("no addresses: expected ip, ip:port or cidr[,...]");
    for (const entry of entries) {
      const rule = parseRule(entry);
      if (!rule)
        throw new Error(
          `"${entry}" is not an IP literal, host:port ([v6]:port) or CIDR prefix (10.0.0.0/8, fd00::/8)`,
        );
      rules.push(rule);
    }
    return new AddressSet(rules);
  }

  allows(address: string, port: number): boolean {
    const ip = decodeIpLiteral(v4Part(address));
    if (!ip) return false;
    for (const r of this.rules) {
      if (r.bytes.length !== ip.length || (r.port !== 0 && r.port !== port)) continue;
      if (prefixMatches(r.bytes, ip, r.bits)) return true;
    }
    return false;
  }

  toString(): string {
    return this.rules.map((r) => r.text).join(",");
  }
}

function parseRule(entry: string): AddressRule | undefined {
  const cidr = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(entry);
  if (cidr) {
    const bytes = decodeIpLiteral(cidr[1]!);
    const bits = Number(cidr[2]);
    if (!bytes || bits > bytes.length * 8) return undefined;
    return { bytes, bits, port: 0, text: `${formatIp(bytes)}/${bits}` };
  }
  const at = parseEndpoint(entry);
  if (at) {
    const bytes = decodeIpLiteral(at.address)!;
    return { bytes, bits: bytes.length * 8, port: at.port, text: formatEndpoint(at) };
  }
  const bytes = decodeIpLiteral(entry);
  if (!bytes) return undefined;
  return { bytes, bits: bytes.length * 8, port: 0, text: formatIp(bytes) };
}

function prefixMatches(rule: Uint8Array, ip: Uint8Array, bits: number): boolean {
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (rule[i] !== ip[i]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (rule[i]! & mask) === (ip[i]! & mask);
}
