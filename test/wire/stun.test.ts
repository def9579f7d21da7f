import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseMessage } from "werift";
import {
  ATTR_USERNAME,
  attributeLength,
  BINDING_REQUEST,
  findAttribute,
  isStun,
  serverUfragLength,
  stunMessageType,
  verifyMessageIntegrity,
} from "../../media/wire/stun.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";

describe("stun wire", () => {
  const req = buildBindingRequest({
    username: "SERVERufrag:cli",
    password: "p".repeat(24),
    useCandidate: true,
  });

  it("recognises a binding request and finds USERNAME's server half", () => {
    expect(isStun(req, 0, req.length)).toBe(true);
    expect(stunMessageType(req, 0)).toBe(BINDING_REQUEST);
    const u = findAttribute(req, 0, req.length, ATTR_USERNAME);
    expect(u).toBeGreaterThan(0);
    expect(attributeLength(req, u)).toBe("SERVERufrag:cli".length);
    const n = serverUfragLength(req, u);
    expect(req.subarray(u, u + n).toString()).toBe("SERVERufrag");
  });

  it("is parsed the same way by werift's full decoder (a real peer's view)", () => {
    const m = parseMessage(req);
    expect(m).toBeDefined();
    expect(m!.getAttributeValue("USERNAME")).toBe("SERVERufrag:cli");
  });

  it("checks MESSAGE-INTEGRITY with the ICE password and restores the buffer", () => {
    const copy = Buffer.from(req);
    expect(verifyMessageIntegrity(copy, 0, copy.length, "p".repeat(24))).toBe(true);
    expect(copy.equals(req)).toBe(true);
    expect(verifyMessageIntegrity(copy, 0, copy.length, "q".repeat(24))).toBe(false);
    const noMi = buildBindingRequest({ username: "a:b" });
    expect(verifyMessageIntegrity(noMi, 0, noMi.length, "p".repeat(24))).toBe(false);
    const tampered = Buffer.from(req);
    tampered[30]! ^= 1;
    expect(verifyMessageIntegrity(tampered, 0, tampered.length, "p".repeat(24))).toBe(false);
  });

  it("rejects truncations and never reads out of bounds on random input", () => {
    for (let n = 0; n < req.length; n++) {
      const t = req.subarray(0, n);
      expect(isStun(t, 0, t.length)).toBe(false);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const buf = Buffer.from(b);
        isStun(buf, 0, buf.length);
        const u = findAttribute(buf, 0, buf.length, ATTR_USERNAME);
        if (u >= 0) {
          expect(u + attributeLength(buf, u)).toBeLessThanOrEqual(buf.length);
          serverUfragLength(buf, u);
        }
        expect(verifyMessageIntegrity(buf, 0, buf.length, "x")).toBe(false);
      }),
    );
  });

  it("rejects a USERNAME with no colon or an empty half", () => {
    for (const name of ["nocolon", ":client", "server:"]) {
      const m = buildBindingRequest({ username: name });
      expect(serverUfragLength(m, findAttribute(m, 0, m.length, ATTR_USERNAME))).toBe(-1);
    }
  });
});
