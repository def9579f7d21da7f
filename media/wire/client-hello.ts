/**
 * The cookie of a DTLS ClientHello (RFC 6347 §4.2.1), found without
 * allocation: the relay checks it for return-routability (dtls-cookie.ts),
 * the transceiver before werift sees it. Bounds checked, never throws.
 */

export const DTLS_RECORD_HEADER = 13; // type, version(2), epoch(2), sequence(6), length(2)
const HANDSHAKE_HEADER = 12; // type, length(3), message_seq(2), fragment_offset(3), fragment_length(3)
export const CONTENT_HANDSHAKE = 22;
export const DTLS_ALERT = 21;
const CLIENT_HELLO = 1;
const DTLS_MAJOR = 0xfe; // DTLS 1.0 = 0xfeff, 1.2 = 0xfefd

/**
 * Whether buf[off..off+len) starts with an epoch-0 DTLS handshake record carrying a
 * ClientHello (any fragment): 1 for its first fragment, 2 for a later one, 0 otherwise.
 */
export function clientHelloRecord(buf: Uint8Array, off: number, len: number): 0 | 1 | 2 {
  if (len < DTLS_RECORD_HEADER + HANDSHAKE_HEADER) return 0;
  if (buf[off] !== CONTENT_HANDSHAKE || buf[off + 1] !== DTLS_MAJOR) return 0;
  if (buf[off + 3] !== 0 || buf[off + 4] !== 0) return 0; // epoch 0: not encrypted
  const h = off + DTLS_RECORD_HEADER;
  if (buf[h] !== CLIENT_HELLO) return 0;
  return (buf[h + 6]! | buf[h + 7]! | buf[h + 8]!) === 0 ? 1 : 2;
}

/**
 * Offset of the cookie_length byte of the ClientHello that buf[off..off+len)
 * starts with (epoch 0, first fragment), or -1 when it is none or the cookie
 * runs past the fragment. The cookie is the buf[at] bytes after it (none in a
 * first ClientHello).
 */
export function clientHelloCookieAt(buf: Uint8Array, off: number, len: number): number {
  // Header, client_version, random, session_id length and cookie length at least.
  if (len < DTLS_RECORD_HEADER + HANDSHAKE_HEADER + 2 + 32 + 2) return -1;
  if (clientHelloRecord(buf, off, len) !== 1) return -1;
  const recordEnd = off + DTLS_RECORD_HEADER + ((buf[off + 11]! << 8) | buf[off + 12]!);
  if (recordEnd > off + len) return -1;
  const h = off + DTLS_RECORD_HEADER;
  const fragmentEnd = h + HANDSHAKE_HEADER + ((buf[h + 9]! << 16) | (buf[h + 10]! << 8) | buf[h + 11]!);
  if (fragmentEnd > recordEnd) return -1;
  let p = h + HANDSHAKE_HEADER + 2 + 32; // skip client_version and random
  if (p >= fragmentEnd) return -1;
  p += 1 + buf[p]!; // session_id
  if (p >= fragmentEnd) return -1;
  return p + 1 + buf[p]! <= fragmentEnd ? p : -1;
}

/** Length of the DTLS record at buf[at..end) (header included), or -1 when it runs past end. */
export function dtlsRecordLength(buf: Uint8Array, at: number, end: number): number {
  if (at + DTLS_RECORD_HEADER > end) return -1;
  const n = DTLS_RECORD_HEADER + ((buf[at + 11]! << 8) | buf[at + 12]!);
  return at + n <= end ? n : -1;
}
