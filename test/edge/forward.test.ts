import { describe, expect, it } from "vitest";
import { forwardCall } from "../../edge/calls/forward.ts";
import { classifyCreate } from "../../edge/calls/transceiver.ts";
import { validateConfig } from "../../edge/config/parse.ts";
import type { EdgeConfig } from "../../edge/config/schema.ts";
import { planAttempts } from "../../edge/steering/plan.ts";
import { answerFor, OFFER } from "./support/sdp.ts";

function config(forwarding: Record<string, number> = {}): EdgeConfig {
  const r = validateConfig({
    pools: [1, 2, 3].map((id) => ({
      id,
      name: `p${id}`,
      region: "r",
      latitude: id * 10,
      longitude: 0,
      endpoint: `http://10.0.0.${id}:8800/`,
    })),
    ingresses: [{ id: "g", latitude: 0, longitude: 0, address: "198.51.100.7:3478" }],
    forwarding: { attempt_timeout_ms: 100, deadline_ms: 1000, ...forwarding },
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.config;
}

type Behaviour = "ok" | "refuse" | "hang" | "full" | "bad-offer" | "500" | "garbage" | "401" | "no-backend";

/** A fetch that answers per host (10.0.0.N) as told, recording each request. */
function fakeFetch(behaviours: Record<number, Behaviour>) {
  const calls: Array<{ url: string; headers: Headers; body: unknown }> = [];
  const fetcher: typeof fetch = async (input, init) => {
    const url = String(input);
    calls.push({ url, headers: new Headers(init?.headers), body: JSON.parse(String(init?.body)) });
    const host = Number(/10\.0\.0\.(\d+)/.exec(url)![1]);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json", ...headers },
      });
    switch (behaviours[host] ?? "ok") {
      case "refuse":
        throw new TypeError("fetch failed: ECONNREFUSED");
      case "hang":
        return new Promise((_r, reject) =>
          init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)),
        );
      case "full":
        return json(
          503,
          { error: { code: "capacity_exceeded", message: "full" } },
          { "retry-after": String(host * 2) },
        );
      case "bad-offer":
        return json(400, {
          error: { code: "invalid_offer", message: "no m=audio", param: null, type: "invalid_request_error" },
        });
      case "500":
        return json(500, { error: { message: "boom" } });
      case "401":
        return json(401, { error: { message: "bad token" } });
      case "no-backend":
        return json(503, {
          error: {
            code: "backend_unavailable",
            message: `backend for model "m" unavailable: it answered HTTP 40${host}`,
            type: "server_error",
            param: null,
          },
        });
      case "garbage":
        return json(201, { id: "../../x", sdp: "nope" });
      default:
        return json(201, {
          id: `s${host}`,
          sdp: answerFor("uf", "198.51.100.7:3478"),
          ufrag: "uf",
          worker: 2,
          ingress: "198.51.100.7:3478",
        });
    }
  };
  return { fetcher, calls };
}

async function forward(
  behaviours: Record<number, Behaviour>,
  forwarding?: Record<string, number>,
  session?: Record<string, unknown>,
) {
  const cfg = config(forwarding);
  const { fetcher, calls } = fakeFetch(behaviours);
  const plan = planAttempts(cfg, () => "ready", { latitude: 0, longitude: 0 });
  const result = await forwardCall(
    plan,
    { sdp: OFFER, session },
    { fetch: fetcher, token: "tok", forwarding: cfg.forwarding },
  );
  return { result, calls };
}

describe("forwarding with failover", () => {
  it("sends the offer, the chosen ingress, the session and the internal token to the nearest cluster", async () => {
    const { result, calls } = await forward({}, {}, { instructions: "hi" });
    expect(result.kind).toBe("created");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe("http://10.0.0.1:8800/v1/sessions");
    expect(calls[0]!.headers.get("authorization")).toBe("Bearer tok");
    expect(calls[0]!.headers.get("content-type")).toBe("application/json");
    expect(calls[0]!.body).toEqual({
      sdp: OFFER,
      ingress: "198.51.100.7:3478",
      session: { instructions: "hi" },
    });
  });

  it.each<[string, Behaviour, string]>([
    ["connection refused", "refuse", "failed"],
    ["no answer in time", "hang", "timeout"],
    ["cluster full", "full", "full"],
    ["server error", "500", "error"],
    ["bad internal token", "401", "error"],
    ["malformed answer", "garbage", "error"],
    ["its AI backend unavailable", "no-backend", "error"],
  ])("moves on to the next cluster on %s", async (_name, behaviour, outcome) => {
    const { result } = await forward({ 1: behaviour });
    expect(result.kind).toBe("created");
    if (result.kind !== "created") return;
    expect(result.attempt.pool.id).toBe(2);
    expect(result.attempts.map((a) => [a.pool, a.outcome])).toEqual([
      [1, outcome],
      [2, "created"],
    ]);
  });

  it("stops at once when a transceiver rejects the offer itself", async () => {
    const { result, calls } = await forward({ 1: "bad-offer" });
    expect(result.kind).toBe("rejected");
    if (result.kind === "rejected")
      expect(result.error).toMatchObject({ status: 400, code: "invalid_offer" });
    expect(calls).toHaveLength(1);
  });

  it("gives up after max_attempts, reporting whether every cluster was full and the shortest Retry-After", async () => {
    const full = await forward({ 1: "full", 2: "full", 3: "full" }, { max_attempts: 3 });
    expect(full.result).toMatchObject({ kind: "exhausted", allFull: true, retryAfter: 2 });
    const mixed = await forward({ 1: "full", 2: "refuse", 3: "ok" }, { max_attempts: 2 });
    expect(mixed.result).toMatchObject({ kind: "exhausted", allFull: false });
    expect(mixed.calls).toHaveLength(2);
  });

  it("reports the AI backend's failure when every cluster that answered could not reach its backend", async () => {
    const all = await forward({ 1: "no-backend", 2: "no-backend" }, { max_attempts: 2 });
    expect(all.result).toMatchObject({
      kind: "exhausted",
      allFull: false,
      backendUnavailable: 'backend for model "m" unavailable: it answered HTTP 402',
    });
    // A cluster that failed otherwise: not the backend's fault alone.
    for (const mixed of [
      { 1: "no-backend", 2: "refuse" },
      { 1: "full", 2: "no-backend" },
    ] as const)
      expect((await forward(mixed, { max_attempts: 2 })).result).toMatchObject({ backendUnavailable: null });
  });

  it("respects the overall deadline across attempts", async () => {
    const t0 = Date.now();
    const { result, calls } = await forward(
      { 1: "hang", 2: "hang", 3: "hang" },
      { attempt_timeout_ms: 150, deadline_ms: 200 },
    );
    expect(result.kind).toBe("exhausted");
    expect(calls).toHaveLength(2); // 150 ms + the 50 ms left; no time for a third
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe("transceiver answers", () => {
  it("sorts statuses into done, caller's fault, full and cluster failure", () => {
    expect(classifyCreate(413, null, "{}")).toMatchObject({
      kind: "rejected",
      error: { status: 413, code: "request_too_large" },
    });
    expect(
      classifyCreate(400, null, '{"error":{"code":"invalid_offer","message":"no audio"}}'),
    ).toMatchObject({
      kind: "rejected",
      error: { status: 400, code: "invalid_offer", message: "no audio" },
    });
    // The transceiver refusing what the edge sent is not the caller's fault.
    expect(classifyCreate(400, null, '{"error":{"code":"invalid_ingress"}}')).toEqual({
      kind: "error",
      reason: "HTTP 400 invalid_ingress",
    });
    expect(classifyCreate(401, null, '{"error":{"code":"invalid_api_key"}}')).toMatchObject({
      kind: "error",
    });
    expect(classifyCreate(422, null, "{}")).toEqual({ kind: "error", reason: "HTTP 422" });
    expect(classifyCreate(503, "7", '{"error":{"code":"capacity_exceeded"}}')).toEqual({
      kind: "full",
      retryAfter: 7,
    });
    expect(classifyCreate(429, null, "")).toEqual({ kind: "full", retryAfter: null });
    expect(classifyCreate(503, null, "<html>")).toEqual({ kind: "error", reason: "HTTP 503" });
    expect(
      classifyCreate(503, null, '{"error":{"code":"backend_unavailable","message":"it answered HTTP 401"}}'),
    ).toEqual({ kind: "error", reason: "HTTP 503 backend_unavailable", backend: "it answered HTTP 401" });
    expect(classifyCreate(404, null, "")).toEqual({ kind: "error", reason: "HTTP 404" });
    expect(classifyCreate(201, null, "not json")).toEqual({ kind: "error", reason: "malformed answer" });
  });
});
