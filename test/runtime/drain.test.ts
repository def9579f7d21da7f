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
  it("returns at once when nothing is active", async () => {
    const c = fakeClock();
    expect(await waitDrained(() => 0, { timeoutMs: 5000, pollMs: 100, ...c })).toEqual({
      remaining: 0,
      timedOut: false,
    });
    expect(c.slept).toEqual([]);
  });

  it("polls until the last one is gone", async () => {
    const c = fakeClock();
    const left = [3, 2, 2, 0];
    const r = await waitDrained(() => left.shift() ?? 0, { timeoutMs: 5000, pollMs: 100, ...c });
    expect(r).toEqual({ remaining: 0, timedOut: false });
    expect(c.slept).toEqual([100, 100, 100]);
  });

  it("gives up at the deadline, never sleeping past it, and says how many were left", async () => {
    const c = fakeClock();
    const r = await waitDrained(() => 4, { timeoutMs: 250, pollMs: 100, ...c });
    expect(r).toEqual({ remaining: 4, timedOut: true });
    expect(c.slept).toEqual([100, 100, 50]);
  });

  it("a zero timeout only looks once", async () => {
    const c = fakeClock();
    expect(await waitDrained(() => 2, { timeoutMs: 0, pollMs: 100, ...c })).toEqual({
      remaining: 2,
      timedOut: true,
    });
    expect(c.slept).toEqual([]);
  });
});
