/**
 * The hello gate (sans-IO): which DTLS ClientHellos werift may see, and the
 * cookie it must hand out or expect (#16 items 1 and 2).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DtlsGate, emptyDtlsDrops } from "../../media/transceiver/dtls-gate.ts";
import type { Addr } from "../../media/transceiver/peer.ts";
import { DtlsCookies } from "../../media/wire/dtls-cookie.ts";
import { clientHello, cookieFor, keys, otherKeys, rtp } from "../support/relay-fixtures.ts";

const A: Addr = ["203.0.113.7", 5000];
const V: Addr = ["198.51.100.9", 5000];
const NOW = 1_800_000_000_000;

function gate() {
  const drops = emptyDtlsDrops();
  return { g: new DtlsGate(new DtlsCookies(keys), drops), drops };
}

/** The same ClientHello as a later fragment (fragment_offset > 0). */
function laterFragment(hello: Buffer): Buffer {
  const b = Buffer.from(hello);
  b.writeUIntBE(40, 13 + 6, 3);
  return b;
}

describe("hello gate", () => {
  it("hands a first ClientHello a cookie bound to its source, and takes it back only from there", () => {
    const { g, drops } = gate();
    expect(g.admit(clientHello(), A, false, NOW)).toBe(true);
    const cookie = g.cookie!;
    expect(Buffer.from(cookie)).toEqual(Buffer.from(cookieFor(A[0], A[1], NOW)));
    // The same cookie from anyone else (a forged victim's address) is refused.
    expect(g.admit(clientHello({ cookie }), V, false, NOW)).toBe(false);
    expect(g.cookie).toBeUndefined();
    expect(drops["bad-cookie"]).toBe(1);
    // From its own address it passes, and werift is to expect exactly it.
    expect(g.admit(clientHello({ cookie }), A, false, NOW + 100)).toBe(true);
    expect(Buffer.from(g.cookie!)).toEqual(Buffer.from(cookie));
  });

  it("refuses made-up, expired and foreign-key cookies", () => {
    const { g, drops } = gate();
    for (const cookie of [
      Buffer.alloc(20, 7),
      cookieFor(A[0], A[1], NOW - 120_000),
      cookieFor(A[0], A[1], NOW, otherKeys),
      cookieFor(A[0], A[1] + 1, NOW),
    ])
      expect(g.admit(clientHello({ cookie }), A, false, NOW)).toBe(false);
    expect(drops["bad-cookie"]).toBe(4);
  });

  it("once DTLS is up, drops every ClientHello, with or without cookie, in any record of the datagram", () => {
    const { g, drops } = gate();
    const valid = cookieFor(A[0], A[1], NOW);
    expect(g.admit(clientHello(), A, true, NOW)).toBe(false);
    expect(g.admit(clientHello({ cookie: valid }), A, true, NOW)).toBe(false);
    const hidden = Buffer.concat([
      Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2, 9, 9]),
      clientHello(),
    ]);
    expect(g.admit(hidden, A, true, NOW)).toBe(false);
    expect(drops.renegotiation).toBe(3);
    // Application data and the rest pass untouched.
    const appData = Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2, 9, 9]);
    expect(g.admit(appData, A, true, NOW)).toBe(true);
    expect(g.admit(rtp(), A, true, NOW)).toBe(true);
  });

  it("takes later fragments only from where the last first fragment came; no restart after a cookie", () => {
    const { g, drops } = gate();
    const cookie = cookieFor(A[0], A[1], NOW);
    expect(g.admit(laterFragment(clientHello()), A, false, NOW)).toBe(false);
    expect(drops.fragment).toBe(1);
    // A first ClientHello big enough to be fragmented (post-quantum key shares): its other fragments follow.
    expect(g.admit(clientHello(), A, false, NOW)).toBe(true);
    expect(g.admit(laterFragment(clientHello()), A, false, NOW)).toBe(true);
    expect(g.admit(laterFragment(clientHello()), V, false, NOW)).toBe(false);
    expect(g.admit(clientHello({ cookie }), A, false, NOW)).toBe(true);
    expect(g.admit(laterFragment(clientHello({ cookie })), A, false, NOW)).toBe(true);
    expect(g.admit(laterFragment(clientHello({ cookie })), V, false, NOW)).toBe(false);
    // A forged V's bad cookie does not make V the sender whose fragments are taken.
    expect(g.admit(clientHello({ cookie }), V, false, NOW)).toBe(false);
    expect(g.admit(laterFragment(clientHello({ cookie })), V, false, NOW)).toBe(false);
    expect(g.admit(clientHello(), A, false, NOW)).toBe(false);
    expect(drops).toMatchObject({ fragment: 4, restart: 1, "bad-cookie": 1 });
  });

  it("once DTLS is up, passes an alert only if it decrypts; before, every alert passes", () => {
    const { g, drops } = gate();
    const plain = Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40]); // epoch 0, fatal
    const sealed = Buffer.from([21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40]); // epoch 1
    expect(g.admit(plain, A, false, NOW)).toBe(true); // a client giving up on the handshake
    const asked: number[] = [];
    const decrypts = (ok: boolean) => (_: Uint8Array, at: number) => {
      asked.push(at);
      return ok;
    };
    expect(g.admit(plain, A, true, NOW, decrypts(false))).toBe(false);
    expect(g.admit(sealed, A, true, NOW, decrypts(false))).toBe(false);
    expect(g.admit(sealed, A, true, NOW, decrypts(true))).toBe(true);
    // An alert after application data in the same datagram is found too.
    const appData = Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2, 9, 9]);
    expect(g.admit(Buffer.concat([appData, sealed]), A, true, NOW, decrypts(false))).toBe(false);
    expect(asked).toEqual([0, 0, 0, 15]);
    expect(drops["unauthenticated-alert"]).toBe(3);
  });

  it("drops a ClientHello whose cookie runs past its fragment: malformed", () => {
    const { g, drops } = gate();
    const ch = clientHello({ cookie: Buffer.alloc(22, 1) });
    const lying = Buffer.from(ch);
    lying.writeUIntBE(40, 13 + 9, 3); // fragment_length ends inside the cookie
    expect(g.admit(lying, A, false, NOW)).toBe(false);
    expect(drops.malformed).toBe(1);
  });

  it("never throws on arbitrary datagrams, and admits anything that holds no ClientHello", () => {
    const { g } = gate();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, up) => {
        const ok = g.admit(bytes, A, up, NOW);
        if (bytes[0] !== 22) expect(ok).toBe(true);
      }),
    );
  });
});
