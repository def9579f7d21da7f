import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostTag, parseSessionId, publicSessionId } from "../../media/transceiver/session-id.ts";

describe("session ids", () => {
  it("round-trip the host (IPv4 and IPv6) and the worker id, within the edge's id alphabet", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.constant("fd00::7"), fc.constant("::1")),
        fc.integer({ min: 1, max: 65535 }),
        (address, port) => {
          const id = publicSessionId(hostTag({ address, port }), "w3_AbC-d_e");
          expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
          const p = parseSessionId(id);
          expect(p?.host).toEqual({ address, port });
          expect(p?.local).toBe("w3_AbC-d_e");
        },
      ),
    );
  });

  it("refuses what is not one of ours, without throwing", () => {
    for (const id of [
      "",
      "w0_abc",
      "hAAAA-w0_x",
      `h${hostTag({ address: "10.0.0.1", port: 1 })}-x0_y`,
      "h!!!!!!!!-w0_a",
    ]) {
      expect(parseSessionId(id)).toBeUndefined();
    }
    expect(parseSessionId(`h${Buffer.from([10, 0, 0, 1, 0, 0]).toString("hex")}-w0_a`)).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        parseSessionId(s);
      }),
    );
  });
});
