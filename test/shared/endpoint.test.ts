/** The one endpoint parser/formatter (shared/ip.ts) every component uses. */
import { describe, expect, it } from "vitest";
import { familyOf, formatEndpoint, parseEndpoint } from "../../shared/ip.ts";

describe("endpoints", () => {
  it("parses IPv4 and bracketed IPv6 literals, canonical, and formats them back", () => {
    expect(parseEndpoint("10.0.0.1:3478")).toEqual({ address: "10.0.0.1", port: 3478 });
    expect(parseEndpoint("[2001:DB8:0:0::1]:443")).toEqual({ address: "2001:db8::1", port: 443 });
    for (const s of ["10.0.0.1:3478", "[2001:db8::1]:443", "[::]:1"])
      expect(formatEndpoint(parseEndpoint(s)!)).toBe(s);
    expect(familyOf("2001:db8::1")).toBe(6);
    expect(familyOf("10.0.0.1")).toBe(4);
  });

  it("refuses names, bad ports and unbracketed IPv6", () => {
    for (const s of [
      "relay.local:3478",
      "10.0.0.1",
      "10.0.0.1:65536",
      "::1:3478",
      "300.1.1.1:1",
      "10.0.0.1:x",
    ])
      expect(parseEndpoint(s)).toBeUndefined();
  });

  it("takes port 0 (any free port) only for an address to bind", () => {
    expect(parseEndpoint("127.0.0.1:0")).toBeUndefined();
    expect(parseEndpoint("127.0.0.1:0", { bind: true })).toEqual({ address: "127.0.0.1", port: 0 });
  });
});
