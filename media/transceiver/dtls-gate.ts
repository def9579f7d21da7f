/**
 * DTLS records from a session's clients, judged before werift sees them
 * (sans-IO): ClientHellos and alerts, the two kinds werift acts on without
 * authenticating them. werift's DTLS server hands every client of a session
 * the same random cookie, whatever its address, restarts an established
 * association on any ClientHello, and closes it on any alert it can parse,
 * encrypted or not (docs/werift.md). So:
 *
 * - a first ClientHello (no cookie) gets a cookie bound to its source address
 *   (dtls-cookie.ts), which the seam puts where werift reads its cookie from:
 *   only a client that receives at that address can send the next one;
 * - a ClientHello with a cookie passes only if the cookie was minted for its
 *   source address and is still valid (the relay facing clients checks the same);
 * - once DTLS is up, every ClientHello is dropped: an unauthenticated datagram
 *   never restarts or tears down a live association (#16 item 2);
 * - a later fragment of a ClientHello passes only from the address whose first
 *   fragment passed last (werift checks the cookie once the message is whole);
 * - after a cookie was accepted, a first ClientHello (a restart of the handshake
 *   by anyone who can put the client's address on a datagram) is dropped too;
 * - once DTLS is up, an alert passes only if it decrypts with the session's keys
 *   (the seam's check): a plaintext one, or forged ciphertext, never ends a call.
 *
 * Drops are counted per reason; nothing else of a datagram is looked at.
 */
import { decodeIpLiteral } from "../../shared/ip.ts";
import {
  clientHelloCookieAt,
  clientHelloRecord,
  DTLS_ALERT,
  dtlsRecordLength,
} from "../wire/client-hello.ts";
import type { DtlsCookies } from "../wire/dtls-cookie.ts";
import type { Addr } from "./peer.ts";

export const DTLS_DROP_REASONS = [
  "renegotiation",
  "bad-cookie",
  "restart",
  "fragment",
  "malformed",
  "unauthenticated-alert",
] as const;
export type DtlsDropReason = (typeof DTLS_DROP_REASONS)[number];
export type DtlsDrops = Record<DtlsDropReason, number>;

export function emptyDtlsDrops(): DtlsDrops {
  return Object.fromEntries(DTLS_DROP_REASONS.map((r) => [r, 0])) as DtlsDrops;
}

export class DtlsGate {
  /** After admit() let a ClientHello through: the cookie werift must send (first hello) or expect. */
  cookie: Uint8Array | undefined = undefined;
  /** Where the accepted ClientHello with a cookie came from. */
  private verifiedFrom: Addr | undefined = undefined;
  /** Where the last first fragment that passed came from: its later fragments may follow. */
  private helloFrom: Addr | undefined = undefined;
  private readonly cookies: DtlsCookies;
  private readonly drops: DtlsDrops;

  constructor(cookies: DtlsCookies, drops: DtlsDrops) {
    this.cookies = cookies;
    this.drops = drops;
  }

  /**
   * Whether werift may see this DTLS datagram from `addr` (every record in it is looked at).
   * `connected`: the session's DTLS association is up; `authentic(data, at)`: whether the record
   * at data[at..] decrypts with its keys (asked for alerts only, once connected). `now`: ms.
   */
  admit(
    data: Uint8Array,
    addr: Addr,
    connected: boolean,
    now: number,
    authentic: (data: Uint8Array, at: number) => boolean = () => false,
  ): boolean {
    this.cookie = undefined;
    const end = data.length;
    for (
      let at = 0, n = dtlsRecordLength(data, 0, end);
      n > 0;
      at += n, n = dtlsRecordLength(data, at, end)
    ) {
      if (data[at] === DTLS_ALERT) {
        if (connected && !authentic(data, at)) return this.drop("unauthenticated-alert");
        continue;
      }
      const kind = clientHelloRecord(data, at, n);
      if (kind === 0) continue;
      if (connected) return this.drop("renegotiation");
      if (kind === 2) {
        if (!this.helloFrom || !sameAddr(this.helloFrom, addr)) return this.drop("fragment");
        continue;
      }
      const c = clientHelloCookieAt(data, at, n);
      if (c < 0) return this.drop("malformed");
      const ip = decodeIpLiteral(addr[0]);
      if (!ip) return this.drop("malformed");
      const length = data[c]!;
      if (length === 0) {
        if (this.verifiedFrom) return this.drop("restart");
        this.cookie = this.cookies.mint(ip, addr[1], now);
      } else if (this.cookies.verify(data, c + 1, length, ip, addr[1], now)) {
        this.cookie = data.slice(c + 1, c + 1 + length);
        this.verifiedFrom = addr;
      } else return this.drop("bad-cookie");
      this.helloFrom = addr;
    }
    return true;
  }

  private drop(reason: DtlsDropReason): false {
    this.drops[reason]++;
    this.cookie = undefined;
    return false;
  }
}

function sameAddr(a: Addr, b: Addr): boolean {
  return a[1] === b[1] && a[0] === b[0];
}
