/**
 * Steering and regional failover in workerd (Miniflare): three regions of
 * fake transceivers on loopback, callers placed by `cf` coordinates, health
 * driven by the Cron Trigger's scheduled handler.
 */
import { afterEach, describe, expect, it } from "vitest";
import { API_KEY, type CfInit, TRANSCEIVER_TOKEN } from "./support/edge.ts";
import { edgeForFile } from "./support/edge-fixture.ts";
import { FakeTransceiver, type Mode } from "./support/fake-transceiver.ts";
import { OFFER } from "./support/sdp.ts";
import { CITY, NOWHERE, topology } from "./support/topology.ts";

const eu = new FakeTransceiver(1);
const us = new FakeTransceiver(2);
const ap = new FakeTransceiver(3);
const fakes = [eu, us, ap];
let clock = Date.now();

const ATTEMPT_TIMEOUT_MS = 300;

const edge = edgeForFile(fakes, () => ({
  config: topology(
    [
      ["fra", eu],
      ["iad", us],
      ["sin", ap],
    ],
    {
      default_pools: [1, 2, 3],
      fallback_pool: 2,
      monitors: [{ id: "default", interval: 60, timeout: 0.3, consecutive_up: 2, consecutive_down: 3 }],
      forwarding: {
        attempt_timeout_ms: ATTEMPT_TIMEOUT_MS,
        deadline_ms: 2000,
        max_attempts: 3,
        suspect_seconds: 30,
      },
    },
  ),
}));
afterEach(async () => {
  for (const f of fakes) {
    await f.stop(); // also drops requests a "slow" fake left hanging
    f.reset();
    await f.start();
  }
});

function call(cf: CfInit["cf"]): Promise<Response> {
  return edge.fetch("/v1/realtime/calls", {
    method: "POST",
    body: OFFER,
    cf,
    headers: { "content-type": "application/sdp", authorization: `Bearer ${API_KEY}` },
  });
}

async function landed(cf: CfInit["cf"]): Promise<{ cluster: string; ingress: string; attempts: string }> {
  const r = await call(cf);
  expect(r.status).toBe(201);
  await r.text();
  return {
    cluster: r.headers.get("x-voice-edge-cluster")!,
    ingress: r.headers.get("x-voice-edge-ingress")!,
    attempts: r.headers.get("x-voice-edge-attempts")!,
  };
}

/** One Cron Trigger run, a monitor interval after the previous one. */
async function tick(times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    clock += 60_000;
    await edge.tick(clock);
  }
}

async function poolHealth(
  id: number,
): Promise<{ availability: string; health: Record<string, unknown> | null }> {
  const r = await edge.fetch("/v1/edge/health", { headers: { authorization: `Bearer ${API_KEY}` } });
  const { pools } = (await r.json()) as {
    pools: Array<{ id: number; availability: string; health: Record<string, unknown> | null }>;
  };
  return pools.find((p) => p.id === id)!;
}

describe("proximity steering", () => {
  it.each([
    ["Berlin", "1", "fra", CITY.berlin],
    ["New York", "2", "iad", CITY.newYork],
    ["Tokyo", "3", "sin", CITY.tokyo],
    ["Mumbai", "3", "sin", CITY.mumbai],
    ["São Paulo", "2", "gru", CITY.saoPaulo],
  ])("sends a caller in %s to cluster %s via ingress %s", async (_city, cluster, ingress, cf) => {
    expect(await landed(cf)).toEqual({ cluster, ingress, attempts: "1" });
    const chosen = fakes.find((f) => String(f.cluster) === cluster)!;
    expect(chosen.creates()).toHaveLength(1);
  });

  it("uses the data center when there are no coordinates, and the failover order when nothing is known", async () => {
    expect(await landed({ ...NOWHERE, colo: "NRT" })).toMatchObject({ cluster: "3", ingress: "sin" });
    expect(await landed({ ...NOWHERE, country: "BR" })).toMatchObject({ cluster: "2", ingress: "gru" });
    expect(await landed(NOWHERE)).toMatchObject({ cluster: "1", ingress: "fra" });
  });
});

describe("regional failover", () => {
  it("moves on when the nearest cluster refuses connections, and skips it at once afterwards", async () => {
    await eu.stop();
    expect(await landed(CITY.berlin)).toEqual({ cluster: "2", ingress: "fra", attempts: "2" });
    const suspect = await poolHealth(1);
    expect(suspect.availability).toBe("suspect");
    expect(String(suspect.health?.suspect_reason)).toMatch(/^unreachable/);
    // Passive health: the next call goes straight to the next region.
    expect(await landed(CITY.berlin)).toMatchObject({ cluster: "2", attempts: "1" });
  });

  it("moves on when the nearest cluster does not answer in time", async () => {
    eu.mode = "slow";
    const t0 = Date.now();
    expect(await landed(CITY.berlin)).toMatchObject({ cluster: "2", attempts: "2" });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS - 20);
    expect(took).toBeLessThan(2000);
    expect(eu.creates()).toHaveLength(1);
  });

  it("moves on when the nearest cluster is full (503)", async () => {
    eu.mode = "full";
    expect(await landed(CITY.berlin)).toMatchObject({ cluster: "2", attempts: "2" });
    expect((await poolHealth(1)).health?.suspect_reason).toBe("full");
  });

  it("answers 503 with Retry-After, as JSON, when every cluster is down", async () => {
    await Promise.all(fakes.map((f) => f.stop()));
    const r = await call(CITY.berlin);
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("5");
    expect(r.headers.get("x-voice-edge-attempts")).toBe("3");
    expect(await r.json()).toEqual({
      error: {
        message: "No healthy cluster could take the call. Retry later.",
        type: "server_error",
        param: null,
        code: "no_healthy_cluster",
      },
    });
  });

  it("answers 503 capacity_exceeded with the clusters' Retry-After when every cluster is full", async () => {
    for (const f of fakes) f.mode = "full";
    const r = await call(CITY.tokyo);
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("7");
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("capacity_exceeded");
  });
});

describe("health monitors (Cron Trigger)", () => {
  it("flip a cluster unhealthy after consecutive_down failed probes and back after consecutive_up good ones", async () => {
    eu.mode = "error";
    await tick(2);
    expect(await poolHealth(1)).toMatchObject({
      availability: "ready",
      health: { healthy: true, consecutive_down: 2 },
    });
    await tick();
    expect(await poolHealth(1)).toMatchObject({ availability: "unavailable", health: { healthy: false } });
    expect(edge.logs).toContain("voice-edge: pool 1 is now unhealthy");

    // The cluster recovers, but stays out of rotation until consecutive_up probes say so.
    eu.mode = "ok";
    expect(await landed(CITY.berlin)).toMatchObject({ cluster: "2", attempts: "1" });
    await tick();
    expect(await landed(CITY.berlin)).toMatchObject({ cluster: "2", attempts: "1" });
    expect(eu.creates()).toHaveLength(0);
    await tick();
    expect(await landed(CITY.berlin)).toMatchObject({ cluster: "1", attempts: "1" });
    expect(edge.logs).toContain("voice-edge: pool 1 is now healthy");
  });

  it.each<[Mode]>([["full"], ["draining"]])(
    "skip a cluster whose health endpoint says %s, until it no longer does",
    async (mode) => {
      eu.mode = mode;
      await tick();
      expect(await landed(CITY.berlin)).toMatchObject({ cluster: "2", attempts: "1" });
      expect(eu.creates()).toHaveLength(0);
      eu.mode = "ok";
      await tick();
      expect(await landed(CITY.berlin)).toMatchObject({ cluster: "1", attempts: "1" });
    },
  );

  it("count a probe that times out as failed, and send the internal token", async () => {
    ap.mode = "slow";
    await tick(3);
    expect(await poolHealth(3)).toMatchObject({
      health: { healthy: false, last_error: "timeout after 0.3s" },
    });
    const probes = us.received.filter((r) => r.path === "/healthz");
    expect(probes).toHaveLength(3);
    expect(probes.every((p) => p.authorization === `Bearer ${TRANSCEIVER_TOKEN}`)).toBe(true);
  });

  it("probe each pool once per monitor interval", async () => {
    await tick();
    await edge.tick(clock + 30_000); // a cron run half an interval later
    expect(eu.received.filter((r) => r.path === "/healthz")).toHaveLength(1);
    await tick();
    expect(eu.received.filter((r) => r.path === "/healthz")).toHaveLength(2);
  });

  it("still try the fallback pool when every pool is unhealthy", async () => {
    for (const f of fakes) f.mode = "error";
    await tick(3);
    us.mode = "ok"; // the fallback recovers before any probe notices
    expect(await landed(CITY.tokyo)).toMatchObject({ cluster: "2", attempts: "1" });
    expect(ap.creates()).toHaveLength(0);
  });
});
