import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  COOKIE_LIFETIME_MS,
  COOKIE_SKEW_MS,
  DTLS_COOKIE_BYTES,
  DtlsCookies,
} from "../../media/wire/dtls-cookie.ts";
import { keyV4 } from "../../media/wire/encap.ts";
import { parseKeyring } from "../../shared/hint.ts";
import { decodeIpLiteral } from "../../shared/ip.ts";

const ring = parseKeyring("3:000102030405060708090a0b0c0d0e0f");
const ip = (a: string) => decodeIpLiteral(a)!;
const NOW = 1_800_000_000_000;

describe("address-bound DTLS cookies", () => {
  const cookies = new DtlsCookies(ring);

  it("verify for the address and port they were minted for, and no other", () => {
    const c = cookies.mint(ip("203.0.113.7"), 5000, NOW);
    expect(c.length).toBe(DTLS_COOKIE_BYTES);
    expect(cookies.verify(c, 0, c.length, ip("203.0.113.7"), 5000, NOW)).toBe(true);
    expect(cookies.verifyV4(c, 0, c.length, keyV4("203.0.113.7", 5000), NOW + 1000)).toBe(true);
    expect(cookies.verify(c, 0, c.length, ip("203.0.113.8"), 5000, NOW)).toBe(false);
    expect(cookies.verify(c, 0, c.length, ip("203.0.113.7"), 5001, NOW)).toBe(false);
    expect(cookies.verifyV4(c, 0, c.length, keyV4("198.51.100.1", 5000), NOW)).toBe(false);
    const v6 = cookies.mint(ip("2001:db8::7"), 5000, NOW);
    expect(cookies.verify(v6, 0, v6.length, ip("2001:db8::7"), 5000, NOW)).toBe(true);
    expect(cookies.verify(v6, 0, v6.length, ip("2001:db8::8"), 5000, NOW)).toBe(false);
  });

  it("expire, tolerate a little clock skew, and read at an offset", () => {
    const c = cookies.mint(ip("10.0.0.1"), 9, NOW);
    const a = ip("10.0.0.1");
    expect(cookies.verify(c, 0, c.length, a, 9, NOW + COOKIE_LIFETIME_MS)).toBe(true);
    expect(cookies.verify(c, 0, c.length, a, 9, NOW + COOKIE_LIFETIME_MS + 2000)).toBe(false);
    expect(cookies.verify(c, 0, c.length, a, 9, NOW - COOKIE_SKEW_MS + 1000)).toBe(true);
    expect(cookies.verify(c, 0, c.length, a, 9, NOW - COOKIE_SKEW_MS - 2000)).toBe(false);
    const padded = new Uint8Array(40);
    padded.set(c, 11);
    expect(cookies.verify(padded, 11, c.length, a, 9, NOW)).toBe(true);
    expect(cookies.verify(padded, 11, c.length - 1, a, 9, NOW)).toBe(false);
    expect(cookies.verify(padded, 30, c.length, a, 9, NOW)).toBe(false); // runs past the buffer
  });

  it("verify under the previous key after a rotation; other keys' cookies never", () => {
    const old = cookies.mint(ip("10.0.0.1"), 9, NOW);
    const rotated = new DtlsCookies(
      parseKeyring("4:ffeeddccbbaa99887766554433221100,3:000102030405060708090a0b0c0d0e0f"),
    );
    expect(rotated.verify(old, 0, old.length, ip("10.0.0.1"), 9, NOW)).toBe(true);
    const stranger = new DtlsCookies(parseKeyring("3:ffeeddccbbaa99887766554433221100"));
    expect(stranger.verify(old, 0, old.length, ip("10.0.0.1"), 9, NOW)).toBe(false);
    expect(cookies.verify(rotated.mint(ip("10.0.0.1"), 9, NOW), 0, 22, ip("10.0.0.1"), 9, NOW)).toBe(false);
  });

  it("refuse any change to a valid cookie, and never throw on arbitrary bytes", () => {
    const c = cookies.mint(ip("10.0.0.1"), 9, NOW);
    for (let i = 0; i < c.length; i++) {
      const bad = Uint8Array.from(c);
      bad[i]! ^= 1;
      expect(cookies.verify(bad, 0, bad.length, ip("10.0.0.1"), 9, NOW)).toBe(false);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(40), (bytes, at) => {
        expect(cookies.verify(bytes, at, DTLS_COOKIE_BYTES, ip("10.0.0.1"), 9, NOW)).toBe(false);
      }),
    );
  });
});
