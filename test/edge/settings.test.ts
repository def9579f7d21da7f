/**
 * How the Worker behaves under its environment settings: a broken
 * configuration, a narrowed CORS origin list, and the dev environment.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, type Edge, startEdge } from "./support/edge.ts";
import { FakeTransceiver } from "./support/fake-transceiver.ts";
import { OFFER } from "./support/sdp.ts";
import { CITY, topology } from "./support/topology.ts";

describe("a misconfigured edge", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await startEdge({ vars: { VOICE_EDGE_CONFIG: "{pools:" } });
  });
  afterAll(() => edge?.dispose());

  it("answers API calls with a JSON 500 and logs what is wrong", async () => {
    const r = await edge.fetch("/v1/realtime/calls", {
      method: "POST",
      body: OFFER,
      headers: { "content-type": "application/sdp", authorization: `Bearer ${API_KEY}` },
    });
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({
      error: {
        message: "The edge is misconfigured; see its logs.",
        type: "server_error",
        param: null,
        code: "edge_misconfigured",
      },
    });
    expect(edge.logs.join("\n")).toMatch(/invalid configuration:\n {2}- VOICE_EDGE_CONFIG is not JSON/);
  });

  it("says so on /healthz, still answers preflights, and skips health checks", async () => {
    expect(await (await edge.fetch("/healthz")).json()).toEqual({ status: "misconfigured", problems: 1 });
    const pre = await edge.fetch("/v1/realtime/calls", {
      method: "OPTIONS",
      headers: { origin: "https://a.example" },
    });
    expect(pre.status).toBe(204);
    await edge.tick(Date.now());
  });
});

describe("a dev edge with a narrowed origin list", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await startEdge({ vars: { VOICE_EDGE_ENV: "dev", CORS_ALLOW_ORIGINS: "https://app.example" } });
  });
  afterAll(() => edge?.dispose());

  it("serves loopback hosts only", async () => {
    const remote = await edge.fetch("http://voice.example.com/healthz");
    expect(remote.status).toBe(403);
    expect(((await remote.json()) as { error: { code: string } }).error.code).toBe("dev_only");
    expect((await edge.fetch("http://localhost:8787/healthz")).status).toBe(200);
    expect((await edge.fetch("http://127.0.0.1:8787/healthz")).status).toBe(200);
  });

  it("lets listed origins call, and no others", async () => {
    const asked = (origin: string) =>
      edge.fetch("http://localhost/v1/realtime/calls", {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization",
        },
      });
    const ok = await asked("https://app.example");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("vary")).toContain("Origin");
    const evil = await asked("https://evil.example");
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const actual = await edge.fetch("http://localhost/healthz", {
      headers: { origin: "https://evil.example" },
    });
    expect(actual.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("an edge caching health in the isolate (health_cache_ms)", () => {
  const eu = new FakeTransceiver(1);
  const us = new FakeTransceiver(2);
  let edge: Edge;
  beforeAll(async () => {
    await Promise.all([eu.start(), us.start()]);
    const config = topology(
      [
        ["fra", eu],
        ["iad", us],
      ],
      {
        monitors: [{ id: "default", interval: 60, timeout: 1, consecutive_up: 1, consecutive_down: 1 }],
        forwarding: { health_cache_ms: 60_000 },
      },
    );
    edge = await startEdge({ config });
  });
  afterAll(async () => {
    await edge?.dispose();
    await Promise.all([eu.stop(), us.stop()]);
  });

  const cluster = async () => {
    const r = await edge.fetch("/v1/realtime/calls", {
      method: "POST",
      body: OFFER,
      cf: CITY.berlin,
      headers: { "content-type": "application/sdp", authorization: `Bearer ${API_KEY}` },
    });
    expect(r.status).toBe(201);
    return r.headers.get("x-voice-edge-cluster");
  };

  it("steers on the cached snapshot, but drops it as soon as a forward fails", async () => {
    expect(await cluster()).toBe("1"); // caches "all healthy"
    eu.mode = "draining";
    await edge.tick(Date.now());
    expect(await cluster()).toBe("2"); // stale cache: tried 1, got 503, failed over
    // The failure invalidated the cache: the snapshot now says draining, and 1 is not tried at all.
    const before = eu.creates().length;
    expect(await cluster()).toBe("2");
    expect(eu.creates().length).toBe(before);
  });
});
