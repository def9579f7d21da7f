/**
 * DTLS cookies bound to the client's address (RFC 6347 §4.2.1: "Cookie =
 * HMAC(Secret, Client-IP, Client-Parameters)"). The transceiver puts one in
 * its HelloVerifyRequest; only a client that receives at that address can echo
 * it, so the relay that faces clients takes a valid one as proof of
 * reachability (docs/relay.md, "Verification"). Both sides hold the hint keys,
 * so the relay checks the cookie itself, without state and without asking.
 *
 * Layout (22 bytes):
 *
 *   0      version (1)
 *   1      key id (a hint key's)
 *   2..5   issued at, Unix seconds, big-endian
 *   6..21  HMAC-SHA-256(key, DOMAIN || bytes 0..5 || client port (2) || client IP (4 or 16))[0..16]
 *
 * A cookie is valid for COOKIE_LIFETIME_MS after it was issued (and up to
 * COOKIE_SKEW_MS before, for clocks a little apart). Verification never
 * throws on attacker input.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { HintKeyring } from "../../shared/hint.ts";

export const DTLS_COOKIE_BYTES = 22;
const VERSION = 1;
const HEAD = 6;
const TAG = DTLS_COOKIE_BYTES - HEAD;
const DOMAIN = new TextEncoder().encode("voice-edge/dtls-cookie/v1\0");
/** A client echoes the cookie within a round trip; werift's retransmissions stay well inside this. */
export const COOKIE_LIFETIME_MS = 60_000;
export const COOKIE_SKEW_MS = 30_000;

type Mac = ReturnType<typeof hmac.create>;

export class DtlsCookies {
  private readonly currentId: number;
  // Keyed HMAC states per key id, cloned per use.
  private readonly macs = new Map<number, Mac>();
  // head || port || ip: written in place, cookies are made and checked synchronously.
  private readonly subject = new Uint8Array(HEAD + 2 + 16);
  private readonly v4 = new Uint8Array(4);

  constructor(keys: HintKeyring) {
    this.currentId = keys.current.id;
    for (const k of keys.previous ? [keys.current, keys.previous] : [keys.current])
      this.macs.set(k.id, hmac.create(sha256, k.secret));
  }

  /** A cookie for the client at ip (4 or 16 bytes) and port, issued at `now` (ms). */
  mint(ip: Uint8Array, port: number, now: number): Uint8Array {
    const out = new Uint8Array(DTLS_COOKIE_BYTES);
    out[0] = VERSION;
    out[1] = this.currentId;
    writeUint32(out, 2, Math.floor(now / 1000));
    out.set(this.tag(out, 0, ip, port)!.subarray(0, TAG), HEAD);
    return out;
  }

  /** Whether buf[at..at+len) is a cookie minted for ip:port and still valid at `now` (ms). */
  verify(buf: Uint8Array, at: number, len: number, ip: Uint8Array, port: number, now: number): boolean {
    if (len !== DTLS_COOKIE_BYTES || buf[at] !== VERSION || at + len > buf.length) return false;
    const issuedMs =
      (buf[at + 2]! * 0x1000000 + ((buf[at + 3]! << 16) | (buf[at + 4]! << 8) | buf[at + 5]!)) * 1000;
    if (issuedMs > now + COOKIE_SKEW_MS || issuedMs + COOKIE_LIFETIME_MS + 1000 < now) return false;
    const expected = this.tag(buf, at, ip, port);
    if (!expected) return false;
    let diff = 0;
    for (let i = 0; i < TAG; i++) diff |= expected[i]! ^ buf[at + HEAD + i]!;
    return diff === 0;
  }

  /** verify() for an IPv4 client given as one number (address * 65536 + port, as keyV4). */
  verifyV4(buf: Uint8Array, at: number, len: number, key: number, now: number): boolean {
    const ip = Math.floor(key / 65536);
    const v4 = this.v4;
    v4[0] = ip >>> 24;
    v4[1] = (ip >>> 16) & 255;
    v4[2] = (ip >>> 8) & 255;
    v4[3] = ip & 255;
    return this.verify(buf, at, len, v4, key % 65536, now);
  }

  /** The HMAC over the cookie head at head[at..at+6) and the client; undefined for an unknown key id. */
  private tag(head: Uint8Array, at: number, ip: Uint8Array, port: number): Uint8Array | undefined {
    const base = this.macs.get(head[at + 1]!);
    if (!base || (ip.length !== 4 && ip.length !== 16)) return undefined;
    const s = this.subject;
    for (let i = 0; i < HEAD; i++) s[i] = head[at + i]!;
    s[HEAD] = port >>> 8;
    s[HEAD + 1] = port & 0xff;
    s.set(ip, HEAD + 2);
    const mac = base.clone();
    mac.update(DOMAIN);
    mac.update(s.subarray(0, HEAD + 2 + ip.length));
    return mac.digest();
  }
}

function writeUint32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 255;
  b[at + 1] = (v >>> 16) & 255;
  b[at + 2] = (v >>> 8) & 255;
  b[at + 3] = v & 255;
}
