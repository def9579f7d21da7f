import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ENCAP_TAGGED,
  ENCAP_V4_LEN,
  ENCAP_V6_LEN,
  encapAddress,
  encapHeaderLength,
  encapKeyId,
  encapKeyV4,
  encapPort,
  keyV4,
} from "../../media/wire/encap.ts";
import { EncapKeys, parseEncapKeys } from "../../media/wire/encap-auth.ts";
import { parseKeyring } from "../../shared/hint.ts";
import { encapKeys, strangerEncapKeys } from "../support/relay-fixtures.ts";

const A = "0a".repeat(16);
const B = "0b".repeat(16);

describe("encapsulation header", () => {
  it("round-trips IPv4 clients, and the flow key matches the one from rinfo", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (address, port) => {
        const pkt = Buffer.concat([encapKeys.header(address, port), Buffer.from([0x80, 1, 2])]);
        expect(encapHeaderLength(pkt, pkt.length)).toBe(ENCAP_V4_LEN);
        expect(encapAddress(pkt)).toBe(address);
        expect(encapPort(pkt)).toBe(port);
        expect(encapKeyId(pkt)).toBe(1);
        expect(encapKeyV4(pkt)).toBe(keyV4(address, port));
        expect(encapKeyV4(pkt)).toBeGreaterThanOrEqual(0);
        expect(encapKeys.check(pkt, 0)).toBe("ok");
      }),
    );
  });

  it("round-trips IPv6 clients", () => {
    const pkt = Buffer.concat([encapKeys.header("2001:db8::7", 443), Buffer.from([22])]);
    expect(encapHeaderLength(pkt, pkt.length)).toBe(ENCAP_V6_LEN);
    expect(encapAddress(pkt)).toBe("2001:db8::7");
    expect(encapPort(pkt)).toBe(443);
    expect(encapKeys.check(pkt, 0)).toBe("ok");
  });

  it("reads a header at an offset of a shared buffer", () => {
    const buf = Buffer.concat([Buffer.alloc(5, 0xee), encapKeys.header("192.0.2.1", 7), Buffer.from([1])]);
    expect(encapHeaderLength(buf, buf.length - 5, 5)).toBe(ENCAP_V4_LEN);
    expect(encapKeys.check(buf, 5)).toBe("ok");
    expect(encapKeys.credential("192.0.2.1", 7).check(buf, 5)).toBe("ok");
  });

  it("refuses raw WebRTC packets, empty payloads, untagged headers and unknown flags", () => {
    const h = encapKeys.header("10.0.0.1", 5);
    expect(encapHeaderLength(h, h.length)).toBe(-1); // no payload
    for (const first of [0x00, 0x01, 0x16, 0x80, 0xbf])
      expect(encapHeaderLength(Buffer.from([first, ENCAP_TAGGED, ...Buffer.alloc(20), 1]), 23)).toBe(-1);
    for (const flags of [0x00, 0x02, 0x03, 0x80, 0xff]) {
      const p = Buffer.concat([h, Buffer.from([1])]);
      p[1] = flags;
      expect(encapHeaderLength(p, p.length)).toBe(-1);
    }
    // The header before authentication (flags 0, 8 bytes): no longer an encapsulated packet.
    expect(encapHeaderLength(Buffer.from([0xf4, 0, 0, 5, 10, 0, 0, 1, 0x80, 1, 2]), 11)).toBe(-1);
  });

  it("keyV4 refuses what is not a dotted quad", () => {
    for (const a of ["::1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "a.b.c.d", "1..2.3"])
      expect(keyV4(a, 1)).toBe(-1);
  });
});

describe("encapsulation token", () => {
  const payload = Buffer.from([0x80, 111, 0, 1]);
  for (const [family, address] of [
    ["IPv4", "198.51.100.7"],
    ["IPv6", "2001:db8::1:7"],
  ] as const) {
    it(`rejects every single bit flip of an ${family} header (kind, flags, port, address, key id, token)`, () => {
      const h = encapKeys.header(address, 40000);
      const credential = encapKeys.credential(address, 40000);
      for (let bit = 0; bit < h.length * 8; bit++) {
        const p = Buffer.concat([h, payload]);
        p[bit >> 3]! ^= 1 << (bit & 7);
        // Either no longer a header, or a header whose token is not the one for what it names.
        const ok = encapHeaderLength(p, p.length) >= 0 && encapKeys.check(p, 0) === "ok";
        expect(ok, `bit ${bit}`).toBe(false);
        // A flow's kept credential (looked up by the header's address) refuses it as well.
        if (encapHeaderLength(p, p.length) >= 0) expect(credential.check(p, 0), `bit ${bit}`).not.toBe("ok");
      }
    });
  }

  it("a token is bound to its client: another address or port needs its own", () => {
    const a = encapKeys.header("203.0.113.5", 1000);
    const other = encapKeys.header("203.0.113.5", 1001);
    // The first header's token pasted onto the second client's address and port.
    const forged = Buffer.concat([
      other.subarray(0, ENCAP_V4_LEN - 8),
      a.subarray(ENCAP_V4_LEN - 8),
      payload,
    ]);
    expect(encapKeys.check(forged, 0)).toBe("bad-token");
    expect(encapKeys.credential("203.0.113.5", 1001).check(forged, 0)).toBe("bad-token");
  });

  it("refuses headers made with other keys (same id), and key ids it does not hold", () => {
    const forged = Buffer.concat([strangerEncapKeys.header("203.0.113.5", 1000), payload]);
    expect(encapKeys.check(forged, 0)).toBe("bad-token");
    expect(encapKeys.credential("203.0.113.5", 1000).check(forged, 0)).toBe("bad-token");
    const otherId = Buffer.concat([parseEncapKeys(`9:${A}`).header("203.0.113.5", 1000), payload]);
    expect(encapKeys.check(otherId, 0)).toBe("unknown-key");
    expect(encapKeys.credential("203.0.113.5", 1000).check(otherId, 0)).toBe("unknown-key");
  });

  it("rotation: sends with the first key, accepts both; each step of the procedure interoperates", () => {
    const old = parseEncapKeys(`1:${A}`);
    const step1 = parseEncapKeys(`1:${A},2:${B}`); // new key accepted, not used
    const step2 = parseEncapKeys(`2:${B},1:${A}`); // new key used, old accepted
    const step3 = parseEncapKeys(`2:${B}`); // old key gone
    const pkt = (k: EncapKeys) => Buffer.concat([k.header("192.0.2.9", 5000), payload]);
    expect(encapKeyId(pkt(step1))).toBe(1);
    expect(encapKeyId(pkt(step2))).toBe(2);
    expect(step1.ids).toEqual([1, 2]);
    // Neighbours in the rollout (one side a step ahead) understand each other both ways.
    for (const [a, b] of [
      [old, step1],
      [step1, step2],
      [step2, step3],
    ] as const) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ]) {
        expect(to.check(pkt(from), 0)).toBe("ok");
        expect(to.credential("192.0.2.9", 5000).check(pkt(from), 0)).toBe("ok");
      }
    }
    // Two steps apart they do not: each step waits for the previous one to be everywhere.
    expect(step3.check(pkt(old), 0)).toBe("unknown-key");
    expect(old.check(pkt(step2), 0)).toBe("unknown-key");
  });

  it("keys are configured like the hint keys, and named as encapsulation keys in errors", () => {
    expect(() => parseEncapKeys("1:abcd")).toThrow("encapsulation key 1 is shorter than 16 bytes");
    expect(() => parseEncapKeys(`1:${A},1:${B}`)).toThrow("the two encapsulation keys need different ids");
    expect(() => parseEncapKeys("")).toThrow("encapsulation keys: give one or two keys");
    expect(new EncapKeys(parseKeyring(`3:${A}`)).currentId).toBe(3);
    expect(() => parseEncapKeys(`3:${A}`).header("192.0.2.1", 1, 4)).toThrow(
      "no encapsulation key with id 4",
    );
  });
});
