import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeBase64 } from "../../shared/base64.ts";
import {
  decodeHint,
  decodeHintBytes,
  HINT_MAX_CHARS,
  HintKeyring,
  mintHint,
  parseKeyring,
} from "../../shared/hint.ts";
import { decodeIpLiteral, formatIp } from "../../shared/ip.ts";

const key = (id: number, fill: number) => ({ id, secret: new Uint8Array(32).fill(fill) });
const ring = new HintKeyring(key(1, 7), key(0, 9));
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6().map((s) => formatIp(decodeIpLiteral(s)!));
const endpoint = fc.record({ address: fc.oneof(ipv4, ipv6), port: fc.integer({ min: 1, max: 65535 }) });

describe("routing hint", () => {
  it("round-trips cluster and transceiver, in ICE characters within ufrag limits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), endpoint, (cluster, transceiver) => {
        const ufrag = mintHint(ring, { cluster, transceiver });
        expect(ufrag).toMatch(ICE_CHARS);
        expect(ufrag.length).toBeGreaterThanOrEqual(4);
        expect(ufrag.length).toBeLessThanOrEqual(Math.min(256, HINT_MAX_CHARS));
        const r = decodeHint(ring, ufrag);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.hint.cluster).toBe(cluster);
        expect(r.hint.transceiver).toEqual(transceiver);
        expect(r.hint.keyId).toBe(1);
      }),
    );
  });

  it("rejects every single-bit flip of a valid hint", () => {
    for (const address of ["10.1.2.3", "fd00::17"]) {
      const ufrag = mintHint(ring, { cluster: 42, transceiver: { address, port: 40001 } });
      const bytes = new TextEncoder().encode(ufrag);
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const forged = bytes.slice();
          forged[i]! ^= 1 << bit;
          const r = decodeHintBytes(ring, forged, 0, forged.length);
          expect(r.ok, `byte ${i} bit ${bit}`).toBe(false);
        }
      }
    }
  });

  it("rejects a flip of any bit of the decoded payload (re-encoded), with a reason", () => {
    const ufrag = mintHint(ring, { cluster: 7, transceiver: { address: "127.0.0.1", port: 5000 } });
    const raw = new Uint8Array(27);
    const src = new TextEncoder().encode(ufrag);
    // decode via the same alphabet, then flip each bit and re-encode: exercises the tag, not just the charset.
    const r0 = decodeHint(ring, ufrag);
    expect(r0.ok).toBe(true);
    const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let acc = 0;
    let bits = 0;
    let o = 0;
    for (const c of src) {
      acc = (acc << 6) | b64.indexOf(String.fromCharCode(c));
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        raw[o++] = (acc >>> bits) & 0xff;
      }
    }
    const reasons = new Set<string>();
    for (let i = 0; i < raw.length * 8; i++) {
      const f = raw.slice();
      f[i >> 3]! ^= 1 << (i & 7);
      const r = decodeHint(ring, encodeBase64(f));
      expect(r.ok).toBe(false);
      if (!r.ok) reasons.add(r.reason);
    }
    expect(reasons).toContain("bad-tag");
    expect(reasons).toContain("version");
    expect(reasons).toContain("unknown-key");
  });

  it("rejects random strings and random bytes without throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(decodeHint(ring, s).ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(decodeHintBytes(ring, b, 0, b.length).ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 27, maxLength: 27 }), (b) => {
        expect(decodeHint(ring, encodeBase64(b)).ok).toBe(false);
      }),
    );
  });

  it("accepts both the current and the previous key, and nothing else", () => {
    const t = { address: "192.0.2.1", port: 7 };
    const old = mintHint(new HintKeyring(key(0, 9)), { cluster: 1, transceiver: t });
    expect(decodeHint(ring, old).ok).toBe(true);
    const stranger = mintHint(new HintKeyring(key(5, 9)), { cluster: 1, transceiver: t });
    expect(decodeHint(ring, stranger)).toEqual({ ok: false, reason: "unknown-key" });
    const sameIdOtherSecret = mintHint(new HintKeyring(key(1, 8)), { cluster: 1, transceiver: t });
    expect(decodeHint(ring, sameIdOtherSecret)).toEqual({ ok: false, reason: "bad-tag" });
  });

  it("fails fast on truncation and bad characters", () => {
    const ufrag = mintHint(ring, { cluster: 3, transceiver: { address: "127.0.0.1", port: 9 } });
    for (let n = 0; n < ufrag.length; n++) expect(decodeHint(ring, ufrag.slice(0, n)).ok).toBe(false);
    expect(decodeHint(ring, ufrag.slice(0, -1) + "=")).toEqual({ ok: false, reason: "charset" });
    expect(decodeHint(ring, ufrag.slice(0, -1) + "é")).toEqual({ ok: false, reason: "charset" });
  });

  it("parses keyrings from configuration with clear errors", () => {
    const k = parseKeyring(`2:${"ab".repeat(16)},1:${btoa("x".repeat(24))}`);
    expect(k.current.id).toBe(2);
    expect(k.previous?.id).toBe(1);
    expect(() => parseKeyring("")).toThrow(/one or two keys/);
    expect(() => parseKeyring("1:abcd")).toThrow(/shorter than 16 bytes/);
    expect(() => parseKeyring("1:aa,1:bb")).toThrow();
    expect(() => parseKeyring("nokey")).toThrow(/id:secret/);
  });
});

describe("ip literals", () => {
  it("round-trips IPv4 and IPv6 in canonical form", () => {
    fc.assert(
      fc.property(ipv4, (a) => {
        expect(formatIp(decodeIpLiteral(a)!)).toBe(a);
      }),
    );
    expect(formatIp(decodeIpLiteral("2001:db8:0:0:1:0:0:1")!)).toBe("2001:db8::1:0:0:1");
    expect(formatIp(decodeIpLiteral("::1")!)).toBe("::1");
    expect(decodeIpLiteral("1.2.3")).toBeUndefined();
    expect(decodeIpLiteral("256.1.1.1")).toBeUndefined();
    expect(decodeIpLiteral("1::2::3")).toBeUndefined();
  });
});
