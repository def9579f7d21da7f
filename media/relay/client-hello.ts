/**
 * Return-routability proof for a flow: a DTLS ClientHello that echoes a
 * non-empty cookie. The transceiver (werift, DTLS server) answers a first
 * ClientHello with a HelloVerifyRequest carrying a cookie; only a client that
 * receives at its source address can send it back (RFC 6347 §4.2.1).
 *
 * The relay does not check the cookie's value (the transceiver does): this
 * only decides when the anti-amplification budget stops applying. Bounds
 * checked, never throws, no allocation.
 */

const RECORD_HEADER = 13; // type, version(2), epoch(2), sequence(6), length(2)
const HANDSHAKE_HEADER = 12; // type, length(3), message_seq(2), fragment_offset(3), fragment_length(3)
const CONTENT_HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const DTLS_MAJOR = 0xfe; // DTLS 1.0 = 0xfeff, 1.2 = 0xfefd

/** True when buf[off..off+len) starts with a DTLS ClientHello whose cookie is not empty. */
export function hasClientHelloCookie(buf: Uint8Array, off: number, len: number): boolean {
  // Header, client_version, random, session_id length and cookie length at least.
  if (len < RECORD_HEADER + HANDSHAKE_HEADER + 2 + 32 + 2) return false;
  if (buf[off] !== CONTENT_HANDSHAKE || buf[off + 1] !== DTLS_MAJOR) return false;
  if (buf[off + 3] !== 0 || buf[off + 4] !== 0) return false; // epoch 0: not encrypted
  const recordEnd = off + RECORD_HEADER + ((buf[off + 11]! << 8) | buf[off + 12]!);
  if (recordEnd > off + len) return false;
  const h = off + RECORD_HEADER;
  if (buf[h] !== CLIENT_HELLO) return false;
  if ((buf[h + 6]! | buf[h + 7]! | buf[h + 8]!) !== 0) return false; // the first fragment
  const fragmentEnd = h + HANDSHAKE_HEADER + ((buf[h + 9]! << 16) | (buf[h + 10]! << 8) | buf[h + 11]!);
  if (fragmentEnd > recordEnd) return false;
  let p = h + HANDSHAKE_HEADER + 2 + 32; // skip client_version and random
  if (p >= fragmentEnd) return false;
  p += 1 + buf[p]!; // session_id
  if (p >= fragmentEnd) return false;
  const cookieLength = buf[p]!;
  return cookieLength > 0 && p + 1 + cookieLength <= fragmentEnd;
}
