import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ENCAP_V4_LEN,
  ENCAP_V6_LEN,
  encapAddress,
  encapHeaderLength,
  encapKeyV4,
  encapPort,
  encodeEncapHeader,
  keyV4,
} from "../../media/wire/encap.ts";

describe("encapsulation header", () => {
  it("round-trips IPv4 clients, and the flow key matches the one from rinfo", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (address, port) => {
        const pkt = Buffer.concat([encodeEncapHeader(address, port), Buffer.from([0x80, 1, 2])]);
        expect(encapHeaderLength(pkt, pkt.length)).toBe(ENCAP_V4_LEN);
        expect(encapAddress(pkt)).toBe(address);
        expect(encapPort(pkt)).toBe(port);
        expect(encapKeyV4(pkt)).toBe(keyV4(address, port));
        expect(encapKeyV4(pkt)).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it("round-trips IPv6 clients", () => {
    const pkt = Buffer.concat([encodeEncapHeader("2001:db8::7", 443), Buffer.from([22])]);
    expect(encapHeaderLength(pkt, pkt.length)).toBe(ENCAP_V6_LEN);
    expect(encapAddress(pkt)).toBe("2001:db8::7");
    expect(encapPort(pkt)).toBe(443);
  });

  it("refuses raw WebRTC packets, empty payloads and unknown flags", () => {
    const h = encodeEncapHeader("10.0.0.1", 5);
    expect(encapHeaderLength(h, h.length)).toBe(-1);
    for (const first of [0x00, 0x01, 0x16, 0x80, 0xbf])
      expect(encapHeaderLength(Buffer.from([first, 0, 0, 0, 0, 0, 0, 0, 1]), 9)).toBe(-1);
    const flagged = Buffer.concat([h, Buffer.from([1])]);
    flagged[1] = 1;
    expect(encapHeaderLength(flagged, flagged.length)).toBe(-1);
  });

  it("keyV4 refuses what is not a dotted quad", () => {
    for (const a of ["::1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "a.b.c.d", "1..2.3"])
      expect(keyV4(a, 1)).toBe(-1);
  });
});
