/**
 * The one base64 codec, unpadded, in two alphabets: base64url (RFC 4648 §5)
 * for tokens in URLs and headers, and standard base64 for ICE ufrags (ICE's
 * alphabet is exactly ALPHA / DIGIT / "+" / "/"). Strict on decode: each
 * string maps to one value. Pure code, no Buffer: it runs in Workers and Node.
 */
export type Base64Alphabet = "base64" | "base64url";

const ALPHABETS: Record<Base64Alphabet, string> = {
  base64: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};
const REVERSE: Record<Base64Alphabet, Int8Array> = {
  base64: reverse(ALPHABETS.base64),
  base64url: reverse(ALPHABETS.base64url),
};

function reverse(alphabet: string): Int8Array {
  const r = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) r[alphabet.charCodeAt(i)] = i;
  return r;
}

export function encodeBase64(bytes: Uint8Array, alphabet: Base64Alphabet = "base64"): string {
  const a = ALPHABETS[alphabet];
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += a[v >>> 18]! + a[(v >>> 12) & 63]! + a[(v >>> 6) & 63]! + a[v & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i]! << 16;
    out += a[v >>> 18]! + a[(v >>> 12) & 63]!;
  } else if (rest === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += a[v >>> 18]! + a[(v >>> 12) & 63]! + a[(v >>> 6) & 63]!;
  }
  return out;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes, "base64url");
}

/**
 * Decodes unpadded base64 ASCII bytes src[start..end) into `out` without
 * allocating (hot path: ufrags straight out of STUN); returns the byte count,
 * or -1 on a character outside the alphabet, an impossible length, non-zero
 * trailing bits or overflow.
 */
export function decodeBase64Into(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  alphabet: Base64Alphabet = "base64",
): number {
  const rev = REVERSE[alphabet];
  const n = end - start;
  if (n % 4 === 1) return -1;
  if (Math.floor((n * 3) / 4) > out.length) return -1;
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    const v = c < 128 ? rev[c]! : -1;
    if (v < 0) return -1;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, or two strings would decode to one value.
  if ((acc & ((1 << bits) - 1)) !== 0) return -1;
  return o;
}

/** Returns undefined on any character outside the alphabet, a bad length or non-zero trailing bits. */
export function decodeBase64(text: string, alphabet: Base64Alphabet = "base64"): Uint8Array | undefined {
  const src = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return undefined;
    src[i] = c;
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  const n = decodeBase64Into(src, 0, src.length, out, alphabet);
  return n < 0 ? undefined : out.subarray(0, n);
}

export function decodeBase64Url(text: string): Uint8Array | undefined {
  return decodeBase64(text, "base64url");
}
