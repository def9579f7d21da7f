import { describe, expect, it } from "vitest";
import { DEFAULT_TCP_LIMITS, overdue, roomFor, TcpAdmission } from "../../media/relay/tcp-bounds.ts";

const limits = {
  ...DEFAULT_TCP_LIMITS,
  firstFrameTimeoutMs: 3000,
  frameTimeoutMs: 2000,
  maxBufferedBytes: 1000,
};

describe("ICE-TCP bounds", () => {
  it("admits up to maxPerAddress connections per address, and again after one closes", () => {
    const a = new TcpAdmission(2);
    expect(a.admit("192.0.2.1")).toBe(true);
    expect(a.admit("192.0.2.1")).toBe(true);
    expect(a.admit("192.0.2.1")).toBe(false);
    expect(a.admit("192.0.2.2")).toBe(true); // another address has its own count
    a.release("192.0.2.1");
    expect(a.count("192.0.2.1")).toBe(1);
    expect(a.admit("192.0.2.1")).toBe(true);
    a.release("192.0.2.2");
    expect(a.count("192.0.2.2")).toBe(0);
    expect(() => new TcpAdmission(0)).toThrow(/positive integer/);
  });

  it("a connection that has opened no flow by the first-frame deadline is overdue", () => {
    const c = { acceptedAt: 1000, opened: false, partialSince: -1 };
    expect(overdue(c, 3999, limits)).toBeUndefined();
    expect(overdue(c, 4000, limits)).toBe("first-frame-timeout");
    expect(overdue({ ...c, opened: true }, 10_000, limits)).toBeUndefined();
  });

  it("a frame begun longer ago than the frame timeout is overdue (slowloris), an open flow or not", () => {
    const c = { acceptedAt: 0, opened: true, partialSince: 5000 };
    expect(overdue(c, 6999, limits)).toBeUndefined();
    expect(overdue(c, 7000, limits)).toBe("frame-timeout");
    // Before its flow opened: whichever deadline comes first.
    expect(overdue({ acceptedAt: 0, opened: false, partialSince: 100 }, 2100, limits)).toBe("frame-timeout");
  });

  it("a reply fits while the bytes queued toward the client stay within the bound", () => {
    expect(roomFor(0, 1000, limits)).toBe(true);
    expect(roomFor(900, 100, limits)).toBe(true);
    expect(roomFor(901, 100, limits)).toBe(false);
  });
});
