/** host:port with an IP literal ("0.0.0.0:3478", "[::]:3478"): the relay's addresses. */
import type { Endpoint } from "../../shared/hint.ts";
import { decodeIpLiteral } from "../../shared/ip.ts";

export function parseEndpoint(s: string): Endpoint | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535 || !decodeIpLiteral(m[1]!)) return undefined;
  return { address: m[1]!, port };
}

export function formatEndpoint(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}
