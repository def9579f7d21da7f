import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clientHelloCookieAt, clientHelloRecord, dtlsRecordLength } from "../../media/wire/client-hello.ts";
import { clientHello } from "../support/relay-fixtures.ts";

/** A ClientHello whose cookie is not empty (what the relay checks further). */
function hasClientHelloCookie(b: Uint8Array, off: number, len: number): boolean {
  const at = clientHelloCookieAt(b, off, len);
  return at >= 0 && b[at]! > 0;
}

describe("ClientHello cookie check", () => {
  const cookie = new Uint8Array(20).fill(7);

  it("accepts a ClientHello that echoes a cookie, at any offset, with or without a session id", () => {
    expect(hasClientHelloCookie(clientHello({ cookie }), 0, clientHello({ cookie }).length)).toBe(true);
    const withSid = clientHello({ cookie, sessionId: new Uint8Array(32).fill(1) });
    expect(hasClientHelloCookie(withSid, 0, withSid.length)).toBe(true);
    const padded = Buffer.concat([Buffer.alloc(5, 9), withSid]);
    expect(hasClientHelloCookie(padded, 5, withSid.length)).toBe(true);
  });

  it("finds the cookie itself, and an empty one in the first ClientHello", () => {
    const ch = clientHello({ cookie, sessionId: new Uint8Array(32).fill(1) });
    const at = clientHelloCookieAt(ch, 0, ch.length);
    expect(ch[at]).toBe(20);
    expect(ch.subarray(at + 1, at + 21)).toEqual(Buffer.from(cookie));
    const first = clientHello();
    expect(first[clientHelloCookieAt(first, 0, first.length)]).toBe(0);
    expect(hasClientHelloCookie(first, 0, first.length)).toBe(false);
  });

  it("tells a ClientHello's first fragment from later ones, and records' lengths", () => {
    const ch = clientHello({ cookie });
    expect(clientHelloRecord(ch, 0, ch.length)).toBe(1);
    const later = Buffer.from(ch);
    later.writeUIntBE(40, 13 + 6, 3); // fragment_offset 40
    expect(clientHelloRecord(later, 0, later.length)).toBe(2);
    expect(clientHelloCookieAt(later, 0, later.length)).toBe(-1);
    const encrypted = Buffer.from(ch);
    encrypted[4] = 1;
    expect(clientHelloRecord(encrypted, 0, encrypted.length)).toBe(0);
    const two = Buffer.concat([ch, ch]);
    expect(dtlsRecordLength(two, 0, two.length)).toBe(ch.length);
    expect(dtlsRecordLength(two, ch.length, two.length)).toBe(ch.length);
    expect(dtlsRecordLength(two, ch.length, two.length - 1)).toBe(-1);
    expect(dtlsRecordLength(two, two.length - 5, two.length)).toBe(-1);
  });

  it("refuses other records and handshakes", () => {
    const ch = clientHello({ cookie });
    const notHandshake = Buffer.from(ch);
    notHandshake[0] = 23; // application data
    const notDtls = Buffer.from(ch);
    notDtls[1] = 0x03; // TLS, not DTLS
    const encrypted = Buffer.from(ch);
    encrypted[4] = 1; // epoch 1
    const serverHello = Buffer.from(ch);
    serverHello[13] = 2;
    const laterFragment = Buffer.from(ch);
    laterFragment[13 + 8] = 1; // fragment_offset 1
    for (const b of [notHandshake, notDtls, encrypted, serverHello, laterFragment])
      expect(hasClientHelloCookie(b, 0, b.length)).toBe(false);
  });

  it("refuses truncated records, and cookies that run past the fragment", () => {
    const ch = clientHello({ cookie, sessionId: new Uint8Array(32) });
    for (let n = 0; n < ch.length; n++) expect(hasClientHelloCookie(ch, 0, n)).toBe(false);
    // A fragment that ends inside the cookie: the cookie length lies.
    const short = Buffer.from(ch);
    const cookieEnd = 13 + 12 + 2 + 32 + 1 + 32 + 1 + cookie.length;
    short.writeUIntBE(cookieEnd - 1 - 25, 13 + 9, 3);
    expect(hasClientHelloCookie(short, 0, short.length)).toBe(false);
    // A record length past the datagram.
    const long = Buffer.from(ch);
    long.writeUInt16BE(ch.length, 11);
    expect(hasClientHelloCookie(long, 0, long.length)).toBe(false);
  });

  it("never throws and never reads past len on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (bytes, cut) => {
        const len = Math.min(cut, bytes.length);
        // Bytes past len are poison: the answer must not depend on them.
        const a = new Uint8Array(len + 64).fill(0);
        const b = new Uint8Array(len + 64).fill(0xff);
        a.set(bytes.subarray(0, len));
        b.set(bytes.subarray(0, len));
        expect(hasClientHelloCookie(a, 0, len)).toBe(hasClientHelloCookie(b, 0, len));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (tail) => {
        const b = Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0]), Buffer.from(tail)]);
        expect(typeof hasClientHelloCookie(b, 0, b.length)).toBe("boolean");
      }),
    );
  });
});
