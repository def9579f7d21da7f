import { describe, expect, it } from "vitest";
import { nextRestartDelay } from "../../media/runtime/backoff.ts";

const b = { baseMs: 100, maxMs: 5000, windowMs: 60_000 };

describe("restart backoff", () => {
  it("doubles per crash within the window, up to the maximum", () => {
    const crashes: number[] = [];
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => nextRestartDelay(crashes, 1000 + i, b));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it("forgets crashes older than the window, so a rare crash restarts at once", () => {
    const crashes: number[] = [];
    nextRestartDelay(crashes, 0, b);
    nextRestartDelay(crashes, 10, b);
    expect(nextRestartDelay(crashes, 60_005, b)).toBe(200); // the one at 10 still counts
    expect(nextRestartDelay(crashes, 200_000, b)).toBe(100);
    expect(crashes).toEqual([200_000]);
  });
});
