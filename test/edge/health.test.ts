import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Pool } from "../../edge/config/schema.ts";
import {
  applyForward,
  applyProbe,
  availabilityOf,
  initialHealth,
  isProbeDue,
  type PoolHealth,
  type ProbeOutcome,
} from "../../edge/health/policy.ts";
import { classifyHealth, probePool } from "../../edge/health/probe.ts";

const T = { consecutive_up: 2, consecutive_down: 3 };
const UP: ProbeOutcome = { kind: "up", full: false, sessions: 1, capacity: 10 };
const DOWN: ProbeOutcome = { kind: "down", error: "HTTP 500" };

function run(probes: ProbeOutcome[], start?: PoolHealth): PoolHealth {
  return probes.reduce<PoolHealth>(
    (h, p, i) => applyProbe(h, p, T, 1000 * (i + 1)),
    start ?? initialHealth(),
  );
}

describe("active health", () => {
  it("flips unhealthy only after consecutive_down failures, and back after consecutive_up successes", () => {
    expect(run([DOWN, DOWN]).healthy).toBe(true);
    const down = run([DOWN, DOWN, DOWN]);
    expect(down).toMatchObject({ healthy: false, changed_at: 3000, last_error: "HTTP 500" });
    expect(run([UP], down).healthy).toBe(false);
    expect(run([UP, UP], down).healthy).toBe(true);
    // A failure in between starts the count again.
    expect(run([DOWN, DOWN, UP, DOWN, DOWN]).healthy).toBe(true);
    expect(run([UP, DOWN, UP], down).healthy).toBe(false);
  });

  it("ends in the state the last probes demand, whatever came before", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 30 }), (ups) => {
        const h = run(ups.map((u) => (u ? UP : DOWN)));
        const tail = (n: number, v: boolean) => ups.length >= n && ups.slice(-n).every((u) => u === v);
        if (tail(T.consecutive_down, false)) expect(h.healthy).toBe(false);
        if (tail(T.consecutive_up, true)) expect(h.healthy).toBe(true);
        if (!ups.includes(false)) expect(h.healthy).toBe(true);
      }),
    );
  });

  it("keeps full and draining clusters out of rotation while they say so", () => {
    const full = run([{ kind: "up", full: true, sessions: 10, capacity: 10 }]);
    expect(full).toMatchObject({ healthy: true, full: true, sessions: 10 });
    expect(availabilityOf(full, 0)).toBe("unavailable");
    const draining = run([{ kind: "draining" }]);
    expect(availabilityOf(draining, 0)).toBe("unavailable");
    expect(availabilityOf(run([UP], draining), 0)).toBe("ready");
  });
});

describe("passive health", () => {
  it("makes a pool suspect at once after a failed forward, until it expires or something succeeds", () => {
    const h = applyForward(undefined, { kind: "failed", reason: "timeout" }, 30_000, 1_000);
    expect(h).toMatchObject({ healthy: true, suspect_until: 31_000, suspect_reason: "timeout" });
    expect(availabilityOf(h, 30_999)).toBe("suspect");
    expect(availabilityOf(h, 31_000)).toBe("ready");
    expect(availabilityOf(applyForward(h, { kind: "ok" }, 30_000, 2_000), 2_000)).toBe("ready");
    expect(availabilityOf(applyProbe(h, UP, T, 2_000), 2_000)).toBe("ready");
    // A failed probe does not clear it.
    expect(availabilityOf(applyProbe(h, DOWN, T, 2_000), 2_000)).toBe("suspect");
  });

  it("treats a cluster that answered 'full' as suspect with that reason", () => {
    expect(applyForward(undefined, { kind: "full" }, 5_000, 0)).toMatchObject({
      suspect_until: 5_000,
      suspect_reason: "full",
    });
  });

  it("counts a never-seen pool as ready", () => {
    expect(availabilityOf(undefined, 0)).toBe("ready");
  });
});

describe("probe scheduling", () => {
  it("probes when the monitor interval has elapsed, allowing for cron jitter", () => {
    expect(isProbeDue(undefined, 60, 0)).toBe(true);
    const h = { ...initialHealth(), last_probe_at: 100_000 };
    expect(isProbeDue(h, 60, 130_000)).toBe(false);
    expect(isProbeDue(h, 60, 158_000)).toBe(true);
    expect(isProbeDue(h, 300, 220_000)).toBe(false);
  });
});

describe("health endpoint responses", () => {
  const pool = { id: 4, endpoint: "http://127.0.0.1:1" } as Pool;

  it("reads the transceiver's answer", () => {
    expect(
      classifyHealth(pool, 200, '{"status":"ok","cluster":4,"sessions":3,"capacity":50,"full":false}'),
    ).toEqual({
      kind: "up",
      full: false,
      sessions: 3,
      capacity: 50,
    });
    expect(classifyHealth(pool, 200, '{"status":"ok","full":true}')).toMatchObject({
      kind: "up",
      full: true,
    });
    expect(classifyHealth(pool, 503, '{"status":"draining"}')).toEqual({ kind: "draining" });
    expect(classifyHealth(pool, 503, "Service Unavailable")).toEqual({ kind: "down", error: "HTTP 503" });
    expect(classifyHealth(pool, 200, "<html>")).toEqual({ kind: "down", error: "HTTP 200" });
    expect(classifyHealth(pool, 200, '{"status":"ok","cluster":5}')).toEqual({
      kind: "down",
      error: "reports cluster 5, configured as 4",
    });
  });

  it("fails a probe that does not answer within the monitor timeout, and sends the internal token", async () => {
    const seen: Array<string | null> = [];
    const hang: typeof fetch = (_url, init) => {
      seen.push(new Headers(init?.headers).get("authorization"));
      return new Promise((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)),
      );
    };
    const monitor = {
      id: "m",
      path: "/healthz",
      interval: 60,
      timeout: 0.05,
      consecutive_up: 1,
      consecutive_down: 1,
    };
    expect(await probePool(hang, pool, monitor, "tok")).toEqual({
      kind: "down",
      error: "timeout after 0.05s",
    });
    expect(seen).toEqual(["Bearer tok"]);
    const refuse: typeof fetch = () => Promise.reject(new TypeError("connect ECONNREFUSED"));
    expect(await probePool(refuse, pool, monitor, undefined)).toEqual({
      kind: "down",
      error: "unreachable: connect ECONNREFUSED",
    });
  });
});
