import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeBase64,
  decodeBase64Into,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
} from "../../shared/base64.ts";

describe("base64 codec", () => {
  it("matches Node's encoders in both alphabets, unpadded, and round-trips", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const buf = Buffer.from(bytes);
        expect(encodeBase64Url(bytes)).toBe(buf.toString("base64url"));
        expect(encodeBase64(bytes)).toBe(buf.toString("base64").replace(/=+$/, ""));
        expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes);
        expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
      }),
    );
  });

  it("is strict: foreign alphabet, padding, bad length and trailing bits are refused", () => {
    for (const bad of ["a", "ab=", "a+b/", "AB", "é", "AAAAA"]) expect(decodeBase64Url(bad)).toBeUndefined();
    for (const bad of ["a-b_", "AB", "abc="]) expect(decodeBase64(bad)).toBeUndefined();
    expect(decodeBase64Url("AA")).toEqual(new Uint8Array([0]));
    expect(decodeBase64("a+8")).toEqual(new Uint8Array([0x6b, 0xef]));
  });

  it("decodes ASCII bytes in place, refusing output that would overflow", () => {
    const src = new TextEncoder().encode("xxAAECAwxx");
    const out = new Uint8Array(3);
    expect(decodeBase64Into(src, 2, 6, out)).toBe(3);
    expect(out).toEqual(new Uint8Array([0, 1, 2]));
    expect(decodeBase64Into(src, 2, 6, new Uint8Array(2))).toBe(-1);
  });
});
