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

/** Header length of an encapsulated packet, or -1 when it is not one (or has no payload). */
export function encapHeaderLength(buf: Uint8Array, len: number): number {
  if (len < 1) return -1;
  const h = buf[0] === ENCAP_V4 ? ENCAP_V4_LEN : buf[0] === ENCAP_V6 ? ENCAP_V6_LEN : -1;
  if (h < 0 || len <= h || buf[1] !== 0) return -1;
  return h;
}

export function encapPort(buf: Uint8Array): number {
  return (buf[2]! << 8) | buf[3]!;
}

/** IPv4 client as one number (address * 65536 + port): a flow key without allocation. */
export function encapKeyV4(buf: Uint8Array): number {
  const ip = buf[4]! * 0x1000000 + ((buf[5]! << 16) | (buf[6]! << 8) | buf[7]!);
  return ip * 65536 + ((buf[2]! << 8) | buf[3]!);
}

/** Client address of an encapsulated packet as a string (allocates; for new flows and logs). */
export function encapAddress(buf: Uint8Array): string {
  return formatIp(buf.subarray(4, buf[0] === ENCAP_V4 ? 8 : 20));
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
