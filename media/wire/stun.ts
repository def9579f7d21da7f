/**
 * The little of STUN (RFC 5389/8489) that the relay and the transceiver demux
 * need: recognise a message, find one attribute, split the USERNAME, check
 * MESSAGE-INTEGRITY. No full decode and no allocation on the lookup path:
 * functions return offsets into the caller's buffer.
 */
import { createHmac } from "node:crypto";

export const STUN_HEADER = 20;
export const MAGIC_COOKIE = 0x2112a442;
export const BINDING_REQUEST = 0x0001;
export const ATTR_USERNAME = 0x0006;
export const ATTR_MESSAGE_INTEGRITY = 0x0008;
export const ATTR_FINGERPRINT = 0x8028;
export const ATTR_USE_CANDIDATE = 0x0025;

/** True when buf[off..off+len) is framed as one STUN message (RFC 7983: first byte 0..3). */
export function isStun(buf: Uint8Array, off: number, len: number): boolean {
  if (len < STUN_HEADER) return false;
  if ((buf[off]! & 0xc0) !== 0) return false;
  const bodyLen = (buf[off + 2]! << 8) | buf[off + 3]!;
  if ((bodyLen & 3) !== 0 || bodyLen + STUN_HEADER !== len) return false;
  return buf[off + 4] === 0x21 && buf[off + 5] === 0x12 && buf[off + 6] === 0xa4 && buf[off + 7] === 0x42;
}

export function stunMessageType(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 8) | buf[off + 1]!) & 0x3fff;
}

/**
 * Offset of the value of the first attribute of `type`, or -1. Its length is
 * the 16-bit word just before that offset. Walks the TLVs with bounds checks
 * so a truncated or lying attribute length ends the walk (returns -1).
 */
export function findAttribute(buf: Uint8Array, off: number, len: number, type: number): number {
  const end = off + len;
  let p = off + STUN_HEADER;
  while (p + 4 <= end) {
    const t = (buf[p]! << 8) | buf[p + 1]!;
    const l = (buf[p + 2]! << 8) | buf[p + 3]!;
    const v = p + 4;
    if (v + l > end) return -1;
    if (t === type) return v;
    p = v + ((l + 3) & ~3);
  }
  return -1;
}

export function attributeLength(buf: Uint8Array, valueOffset: number): number {
  return (buf[valueOffset - 2]! << 8) | buf[valueOffset - 1]!;
}

/**
 * The length of the server (receiver) half of USERNAME "server:client", which
 * starts at the value offset; -1 when there is no colon or either half is empty.
 */
export function serverUfragLength(buf: Uint8Array, valueOffset: number): number {
  const l = attributeLength(buf, valueOffset);
  for (let i = 0; i < l; i++) {
    if (buf[valueOffset + i] === 0x3a) return i > 0 && i < l - 1 ? i : -1;
  }
  return -1;
}

/**
 * Checks MESSAGE-INTEGRITY (HMAC-SHA1 with the short-term key, i.e. the ICE
 * password) as RFC 5389 §15.4 says: over the message up to the attribute, with
 * the header length counting up to the end of MESSAGE-INTEGRITY.
 */
export function verifyMessageIntegrity(buf: Buffer, off: number, len: number, key: string | Buffer): boolean {
  const mi = findAttribute(buf, off, len, ATTR_MESSAGE_INTEGRITY);
  if (mi < 0 || attributeLength(buf, mi) !== 20) return false;
  const attrStart = mi - 4;
  const savedHi = buf[off + 2]!;
  const savedLo = buf[off + 3]!;
  const patched = attrStart + 24 - off - STUN_HEADER;
  buf[off + 2] = patched >>> 8;
  buf[off + 3] = patched & 0xff;
  const digest = createHmac("sha1", key).update(buf.subarray(off, attrStart)).digest();
  buf[off + 2] = savedHi;
  buf[off + 3] = savedLo;
  let diff = 0;
  for (let i = 0; i < 20; i++) diff |= digest[i]! ^ buf[mi + i]!;
  return diff === 0;
}
