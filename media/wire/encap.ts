/**
 * Relay <-> transceiver encapsulation: every datagram between them carries the
 * client's address in front, in the same shape both ways (docs/encapsulation.md).
 *
 *   byte 0     0xF4 (client is IPv4) or 0xF6 (client is IPv6)
 *   byte 1     flags, 0 (receivers drop packets with unknown flags set)
 *   bytes 2-3  client UDP port, big-endian
 *   bytes 4..  client address: 4 or 16 bytes
 *   then       the client's datagram, unchanged
 *
 * 0xF4/0xF6 fall outside every range RFC 7983 assigns (STUN, DTLS, RTP, ZRTP,
 * TURN channels), so a stray raw WebRTC packet is never mistaken for one.
 */
import { decodeIpLiteral, formatIp } from "../../shared/ip.ts";

export const ENCAP_V4 = 0xf4;
export const ENCAP_V6 = 0xf6;
export const ENCAP_V4_LEN = 8;
export const ENCAP_V6_LEN = 20;

/*
 * Each reader takes the packet at buf[at..): 0 for a datagram of its own, or
 * its offset in a shared receive buffer (the relay's batched I/O).
 */

/** Header length of an encapsulated packet of `len` bytes, or -1 when it is not one (or has no payload). */
export function encapHeaderLength(buf: Uint8Array, len: number, at = 0): number {
  if (len < 1) return -1;
  const b = buf[at];
  const h = b === ENCAP_V4 ? ENCAP_V4_LEN : b === ENCAP_V6 ? ENCAP_V6_LEN : -1;
  if (h < 0 || len <= h || buf[at + 1] !== 0) return -1;
  return h;
}

export function encapPort(buf: Uint8Array, at = 0): number {
  return (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** IPv4 client as one number (address * 65536 + port): a flow key without allocation. */
export function encapKeyV4(buf: Uint8Array, at = 0): number {
  const ip = buf[at + 4]! * 0x1000000 + ((buf[at + 5]! << 16) | (buf[at + 6]! << 8) | buf[at + 7]!);
  return ip * 65536 + ((buf[at + 2]! << 8) | buf[at + 3]!);
}

/** Client address of an encapsulated packet as a string (allocates; for new flows and logs). */
export function encapAddress(buf: Uint8Array, at = 0): string {
  return formatIp(buf.subarray(at + 4, at + (buf[at] === ENCAP_V4 ? 8 : 20)));
}

/** Builds the header for one client: computed once per flow and reused for every packet. */
export function encodeEncapHeader(address: string, port: number): Buffer {
  const ip = decodeIpLiteral(address);
  if (!ip) throw new Error(`not an IP literal: ${address}`);
  const h = Buffer.alloc(4 + ip.length);
  h[0] = ip.length === 4 ? ENCAP_V4 : ENCAP_V6;
  h[1] = 0;
  h.writeUInt16BE(port, 2);
  h.set(ip, 4);
  return h;
}

/** The dotted quad of an IPv4 key (keyV4, encapKeyV4); allocates (cold paths only). */
export function formatKeyV4(key: number): string {
  const ip = Math.floor(key / 65536);
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** IPv4 dotted quad + port as the same number encapKeyV4 gives, or -1; no allocation. */
export function keyV4(address: string, port: number): number {
  let ip = 0;
  let octet = 0;
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || octet > 255) return -1;
      ip = ip * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30);
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0 || octet > 255) return -1;
  return (ip * 256 + octet) * 65536 + port;
}
