/**
 * Session ids as the session API hands them out: "h<host>-<worker id>", where
 * <host> is the hex of the transceiver host's own API address (IP, port). Behind a
 * Kubernetes Service the edge reaches any pod of a cluster; a pod that gets a
 * request for another pod's session finds it from the id, without a table.
 */
import { decodeIpLiteral, formatIp } from "../../shared/ip.ts";

export interface HostAddress {
  address: string;
  port: number;
}

export function hostTag(h: HostAddress): string {
  const ip = decodeIpLiteral(h.address);
  if (!ip) throw new Error(`host address "${h.address}" is not an IP literal`);
  const b = Buffer.alloc(ip.length + 2);
  b.set(ip, 0);
  b.writeUInt16BE(h.port, ip.length);
  return b.toString("hex");
}

export function publicSessionId(tag: string, workerSessionId: string): string {
  return `h${tag}-${workerSessionId}`;
}

/** Splits a public id; undefined when it is not one of ours. */
export function parseSessionId(id: string): { host: HostAddress; tag: string; local: string } | undefined {
  const m = /^h([0-9a-f]{12}|[0-9a-f]{36})-(w\d+_[A-Za-z0-9_-]+)$/.exec(id);
  if (!m) return undefined;
  const raw = Buffer.from(m[1]!, "hex");
  if (raw.length !== 6 && raw.length !== 18) return undefined;
  const port = raw.readUInt16BE(raw.length - 2);
  if (port === 0) return undefined;
  return { host: { address: formatIp(raw.subarray(0, raw.length - 2)), port }, tag: m[1]!, local: m[2]! };
}
