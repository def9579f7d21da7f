import { describe, expect, it } from "vitest";
import { AmplificationBudget } from "../../media/relay/amplification.ts";

describe("anti-amplification budget", () => {
  it("lets an unverified flow receive no more than it sent", () => {
    const b = new AmplificationBudget();
    expect(b.spend(1)).toBe(false);
    b.receive(100);
    expect(b.spend(60)).toBe(true);
    expect(b.spend(41)).toBe(false); // would be 101 > 100
    expect(b.spend(40)).toBe(true); // exactly 100
    expect(b.spend(1)).toBe(false);
    expect(b.sent).toBe(100);
    b.receive(10);
    expect(b.spend(10)).toBe(true);
  });

  it("a refused send books nothing", () => {
    const b = new AmplificationBudget();
    b.receive(50);
    expect(b.spend(80)).toBe(false);
    expect(b.spend(50)).toBe(true);
  });

  it("stops limiting once verified", () => {
    const b = new AmplificationBudget();
    b.receive(10);
    b.verify();
    expect(b.spend(1_000_000)).toBe(true);
    expect(b.spend(1_000_000)).toBe(true);
  });
});
