/** The one drain wait (media/runtime/drain.ts), on a fake clock: no timers. */
import { describe, expect, it } from "vitest";
import { waitDrained } from "../../media/runtime/drain.ts";

function fakeClock() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe("waitDrained", () => {
  it.each([
    { name: "returns at once when nothing is active", active: [0], timeoutMs: 5000, left: 0, slept: [] },
    {
      name: "polls until the last one is gone",
      active: [3, 2, 2, 0],
      timeoutMs: 5000,
      left: 0,
      slept: [100, 100, 100],
    },
    {
      name: "gives up at the deadline, never sleeping past it, and says how many were left",
      active: [4],
      timeoutMs: 250,
      left: 4,
      slept: [100, 100, 50],
    },
    { name: "a zero timeout only looks once", active: [2], timeoutMs: 0, left: 2, slept: [] },
  ])("$name", async ({ active, timeoutMs, left, slept }) => {
    const c = fakeClock();
    // The active count at each look; the last one stays.
    const r = await waitDrained(() => (active.length > 1 ? active.shift()! : active[0]!), {
      timeoutMs,
      pollMs: 100,
      ...c,
    });
    expect(r).toEqual({ remaining: left, timedOut: left > 0 });
    expect(c.slept).toEqual(slept);
  });
});
