/**
 * Relay <-> transceiver encapsulation: every datagram between the tiers carries
 * the client's address in front, in the same shape both ways, authenticated by
 * a per-client token (docs/encapsulation.md).
 *
 *   byte 0     0xF4 (client is IPv4) or 0xF6 (client is IPv6)
 *   byte 1     flags: 0x01 "tagged" (key id and token follow the address); required,
 *              and receivers drop packets with any other flag set
 *   bytes 2-3  client UDP port, big-endian
 *   bytes 4..  client address: 4 or 16 bytes
 *   then       key id (1 byte) and token (8 bytes): encap-auth.ts
 *   then       the client's datagram, unchanged
 *
 * 0xF4/0xF6 fall outside every range RFC 7983 assigns (STUN, DTLS, RTP, ZRTP,
 * TURN channels), so a stray raw WebRTC packet is never mistaken for one.
 * This file is the layout only; what the token is, and who checks it, is encap-auth.ts.
 */
import { decodeIpLiteral, formatIp } from "../../shared/ip.ts";

export const ENCAP_V4 = 0xf4;
export const ENCAP_V6 = 0xf6;
/** Flags: the header carries a key id and a token (every header does: untagged ones are dropped). */
export const ENCAP_TAGGED = 0x01;
export const ENCAP_TOKEN_LEN = 8;
/** Offset of the key id: right after the address. */
export const ENCAP_V4_KEY_ID = 8;
export const ENCAP_V6_KEY_ID = 20;
export const ENCAP_V4_LEN = ENCAP_V4_KEY_ID + 1 + ENCAP_TOKEN_LEN; // 17
export const ENCAP_V6_LEN = ENCAP_V6_KEY_ID + 1 + ENCAP_TOKEN_LEN; // 29

/*
 * Each reader takes the packet at buf[at..): 0 for a datagram of its own, or
 * its offset in a shared receive buffer (the relay's batched I/O).
 */

/**
 * Header length of an encapsulated packet of `len` bytes, or -1 when it is not
 * one (unknown kind, flags other than "tagged", no payload). Says nothing of
 * the token: encap-auth.ts checks it.
 */
export function encapHeaderLength(buf: Uint8Array, len: number, at = 0): number {
  if (len < 1) return -1;
  const b = buf[at];
  const h = b === ENCAP_V4 ? ENCAP_V4_LEN : b === ENCAP_V6 ? ENCAP_V6_LEN : -1;
  if (h < 0 || len <= h || buf[at + 1] !== ENCAP_TAGGED) return -1;
  return h;
}

export function encapPort(buf: Uint8Array, at = 0): number {
  return (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** Key id of a header (its kind already checked). */
export function encapKeyId(buf: Uint8Array, at = 0): number {
  return buf[at + (buf[at] === ENCAP_V4 ? ENCAP_V4_KEY_ID : ENCAP_V6_KEY_ID)]!;
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

/**
 * Builds the header for one client with a given key id and token (encap-auth.ts
 * computes the token): once per flow, reused for every packet.
 */
export function encodeEncapHeader(address: string, port: number, keyId: number, token: Uint8Array): Buffer {
  const ip = decodeIpLiteral(address);
  if (!ip) throw new Error(`not an IP literal: ${address}`);
  if (token.length !== ENCAP_TOKEN_LEN) throw new Error(`an encapsulation token is ${ENCAP_TOKEN_LEN} bytes`);
  const h = Buffer.alloc(4 + ip.length + 1 + ENCAP_TOKEN_LEN);
  h[0] = ip.length === 4 ? ENCAP_V4 : ENCAP_V6;
  h[1] = ENCAP_TAGGED;
  h.writeUInt16BE(port, 2);
  h.set(ip, 4);
  h[4 + ip.length] = keyId;
  h.set(token, 5 + ip.length);
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

/** How a dual-stack IPv6 socket reports an IPv4 peer. */
export const MAPPED = "::ffff:";

/**
 * Flow key of an IPv4 client as the public socket reports it: a dotted quad,
 * or "::ffff:a.b.c.d" on a dual-stack IPv6 socket; -1 for any other IPv6 address.
 */
export function clientKeyV4(address: string, port: number): number {
  const k = keyV4(address, port);
  if (k >= 0 || address.length < 14 || !address.startsWith(MAPPED)) return k;
  return keyV4(address.slice(MAPPED.length), port);
}
