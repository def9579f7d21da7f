import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../media/runtime/log.ts";
import { createApi } from "../../media/transceiver/api/app.ts";
import { startTransceiver } from "../../media/transceiver/main.ts";
import { TransceiverPool } from "../../media/transceiver/pool.ts";
import { SessionHost } from "../../media/transceiver/session-host.ts";
import { InProcessWorker } from "../../media/transceiver/worker-handle.ts";
import { decodeHint, parseKeyring } from "../../shared/hint.ts";
import { DEV_SESSION_API_TOKEN } from "../../shared/session-api.ts";
import { ENCAP_KEYS_SPEC, encapKeys } from "../support/relay-fixtures.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const KEYS = `1:${"ab".repeat(16)}`;
let worker: SessionHost;
let pool: TransceiverPool;
let app: ReturnType<typeof createApi>;
const clients: TestClient[] = [];

async function offer(): Promise<string> {
  const c = createTestClient();
  clients.push(c);
  return c.offer();
}

beforeAll(async () => {
  worker = new SessionHost({
    index: 0,
    cluster: 9,
    keys: parseKeyring(KEYS),
    encapKeys,
    bindHost: "127.0.0.1",
    bindPort: 0,
    ingress: { address: "127.0.0.1", port: 3478 },
    capacity: 2,
    silenceTimeoutMs: 30_000,
  });
  await worker.start();
  pool = new TransceiverPool(9, [new InProcessWorker(worker)]);
  app = createApi(pool, { token: "secret" });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await pool.close();
});

const auth = { authorization: "Bearer secret" };
const post = (body: BodyInit, type = "application/json", headers: Record<string, string> = auth) =>
  app.request("/v1/sessions", { method: "POST", body, headers: { "content-type": type, ...headers } });

describe("transceiver session API", () => {
  it("creates a session: the answer advertises the ingress, with a hint ufrag naming this worker", async () => {
    const res = await post(JSON.stringify({ sdp: await offer(), ingress: "203.0.113.9:3479" }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; sdp: string; ufrag: string; ingress: string };
    expect(body.ingress).toBe("203.0.113.9:3479");
    expect(body.sdp).toContain(`a=ice-ufrag:${body.ufrag}`);
    expect(body.sdp).toMatch(/a=candidate:\S+ 1 udp \d+ 203\.0\.113\.9 3479 typ host/);
    expect(body.sdp).toContain("a=ice-lite");
    expect(body.sdp).toContain("a=setup:passive");
    expect(body.sdp).not.toMatch(/a=candidate:(?!.*203\.0\.113\.9)/);
    const hint = decodeHint(parseKeyring(KEYS), body.ufrag);
    expect(hint.ok && hint.hint.cluster).toBe(9);
    expect(hint.ok && `${hint.hint.transceiver.address}:${hint.hint.transceiver.port}`).toBe(
      worker.load().endpoint,
    );
    const listed = (await (await app.request("/v1/sessions", { headers: auth })).json()) as {
      sessions: { id: string }[];
    };
    expect(listed.sessions.map((s) => s.id)).toContain(body.id);
    const one = await app.request(`/v1/sessions/${body.id}`, { headers: auth });
    expect(one.status).toBe(200);
    expect(await app.request(`/v1/sessions/${body.id}`, { method: "DELETE", headers: auth })).toHaveProperty(
      "status",
      204,
    );
    expect(await app.request(`/v1/sessions/${body.id}`, { method: "DELETE", headers: auth })).toHaveProperty(
      "status",
      404,
    );
  });

  it("advertises the ingress's ICE-TCP listener as a passive TCP candidate below the UDP one; tcp_only leaves UDP out", async () => {
    const both = await post(
      JSON.stringify({ sdp: await offer(), ingress: "203.0.113.9:3479", ingress_tcp: "203.0.113.9:443" }),
    );
    expect(both.status).toBe(201);
    const a = (await both.json()) as { id: string; sdp: string; ufrag: string };
    const udp = /a=candidate:\S+ 1 udp (\d+) 203\.0\.113\.9 3479 typ host/.exec(a.sdp);
    const tcp = new RegExp(
      `a=candidate:\\S+ 1 tcp (\\d+) 203\\.0\\.113\\.9 443 typ host tcptype passive generation 0 ufrag ${a.ufrag.replace(/[+/]/g, "\\$&")}`,
    ).exec(a.sdp);
    expect(udp && tcp).toBeTruthy();
    expect(Number(tcp![1])).toBeLessThan(Number(udp![1])); // RFC 6544: clients try UDP first
    const only = await post(
      JSON.stringify({
        sdp: await offer(),
        ingress: "203.0.113.9:3479",
        ingress_tcp: "203.0.113.9:443",
        tcp_only: true,
      }),
    );
    const b = (await only.json()) as { id: string; sdp: string };
    expect(b.sdp).toMatch(/a=candidate:\S+ 1 tcp \d+ 203\.0\.113\.9 443 typ host tcptype passive/);
    expect(b.sdp).not.toMatch(/a=candidate:\S+ 1 udp/);
    await pool.endSession(a.id);
    await pool.endSession(b.id);
    // tcp_only without a TCP listener to advertise: refused, nothing created.
    const none = await post(
      JSON.stringify({ sdp: await offer(), ingress: "203.0.113.9:3479", tcp_only: true }),
    );
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(/ICE-TCP/);
    const bad = await post(JSON.stringify({ sdp: await offer(), ingress_tcp: "example.com:443" }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_ingress");
    expect(worker.sessions.size).toBe(0);
  });

  it("accepts a raw application/sdp offer", async () => {
    const res = await post(await offer(), "application/sdp");
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await pool.endSession(id);
  });

  it("refuses malformed, empty and oversize offers with clear errors, creating nothing", async () => {
    const cases: [BodyInit, string, number, string][] = [
      [JSON.stringify({ sdp: "" }), "application/json", 400, "invalid_offer"],
      [JSON.stringify({ sdp: "hello" }), "application/json", 400, "invalid_offer"],
      [
        JSON.stringify({ sdp: "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" }),
        "application/json",
        400,
        "invalid_offer",
      ],
      ["{not json", "application/json", 400, "invalid_request"],
      [JSON.stringify({ nosdp: 1 }), "application/json", 400, "invalid_request"],
      [JSON.stringify({ sdp: "v=0", ingress: "example.com:1" }), "application/json", 400, "invalid_ingress"],
      ["v=0\r\n" + "a=x\r\n".repeat(40_000), "application/sdp", 413, "body_too_large"],
    ];
    for (const [body, type, status, code] of cases) {
      const res = await post(body, type);
      expect(res.status, code).toBe(status);
      const json = (await res.json()) as { error: { code: string; message: string; type: string } };
      expect(json.error.code).toBe(code);
      expect(json.error.message.length).toBeGreaterThan(5);
    }
    // An offer that passes the structural check but that werift cannot apply: 400, not 500.
    const broken = (await offer()).replace(/a=fingerprint:sha-256 [0-9A-F:]+/g, "a=fingerprint:sha-256 00");
    const res = await post(JSON.stringify({ sdp: broken.replace(/m=audio.*\r\n/, "m=audio x\r\n") }));
    expect([400]).toContain(res.status);
    expect(worker.sessions.size).toBe(0);
  });

  it("requires the bearer token on every session route, OpenAI-shaped, but not for health", async () => {
    const created = await post(JSON.stringify({ sdp: await offer() }));
    const { id } = (await created.json()) as { id: string };
    const routes: [string, string][] = [
      ["POST", "/v1/sessions"],
      ["GET", "/v1/sessions"],
      ["GET", `/v1/sessions/${id}`],
      ["POST", `/v1/sessions/${id}/offer`],
      ["DELETE", `/v1/sessions/${id}`],
      ["GET", "/v1/nothing-here"],
    ];
    const credentials: [Record<string, string>, string][] = [
      [{}, "missing_api_key"],
      [{ authorization: "Bearer secreT" }, "invalid_api_key"],
      [{ authorization: "Bearer secret-and-more" }, "invalid_api_key"],
      [{ authorization: "Basic secret" }, "invalid_api_key"],
      [{ authorization: "secret" }, "invalid_api_key"],
    ];
    for (const [method, path] of routes) {
      for (const [headers, code] of credentials) {
        const res = await app.request(path, {
          method,
          headers: { ...headers, "content-type": "application/sdp" },
        });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(await res.json()).toEqual({
          error: { message: expect.any(String), type: "invalid_request_error", param: null, code },
        });
      }
    }
    // Nothing happened to the session without the token.
    expect(worker.sessions.size).toBe(1);
    expect((await app.request("/healthz")).status).toBe(200);
    await pool.endSession(id);
  });

  it("answers JSON errors, 4xx for bad input, on unknown routes and methods and malformed ids", async () => {
    const cases: [string, string, number, string][] = [
      ["GET", "/", 404, "not_found"],
      ["PUT", "/v1/sessions", 404, "not_found"],
      ["PATCH", "/v1/sessions/w0_abc", 404, "not_found"],
      ["FOO", "/v1/sessions", 404, "not_found"],
      ["GET", "/v1/sessions/%zz", 404, "session_not_found"],
      ["GET", `/v1/sessions/${"h4".padEnd(300, "A")}-w0_x`, 404, "session_not_found"],
      ["DELETE", "/v1/sessions/h6AAAA-w0_0123456789abcdef", 404, "session_not_found"],
      ["POST", "/v1/sessions/w0_0123456789abcdef/offer", 400, "invalid_offer"],
      ["DELETE", "/v1/sessions/..%2F..%2Fhealthz", 404, "session_not_found"],
    ];
    for (const [method, path, status, code] of cases) {
      const res = await app.request(path, { method, headers: auth });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    const restartNone = await app.request("/v1/sessions/w0_0123456789abcdef/offer", {
      method: "POST",
      headers: { ...auth, "content-type": "application/sdp" },
      body: await offer(),
    });
    expect(restartNone.status).toBe(404);
    // A create body whose session nests deep, or is not an object: 400, never 500.
    const deep = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
    for (const session of [deep, '"text"', "[1, 2]"]) {
      const res = await post(`{"sdp": ${JSON.stringify(await offer())}, "session": ${session}}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    }
    expect(worker.sessions.size).toBe(0);
  });

  it("never answers 5xx or a non-JSON error to arbitrary requests (seeded fuzz)", async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.constantFrom("w0_0123456789abcdef", "h4", "h6AAAA-w0_x", "%zz", "..", "offer"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"),
        fc.array(segment, { maxLength: 3 }),
        fc.constantFrom("application/json", "application/sdp", "text/plain", ""),
        fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 })),
        async (method, segments, type, body) => {
          const path = `/v1/sessions${segments.map((x) => `/${x}`).join("")}`;
          const res = await app.request(path, {
            method,
            headers: { ...auth, ...(type ? { "content-type": type } : {}) },
            body: method === "GET" || method === "HEAD" ? undefined : body,
          });
          expect(res.status, `${method} ${path}`).toBeLessThan(500);
          if (res.status >= 400 && method !== "HEAD") {
            const json = (await res.json()) as { error: Record<string, unknown> };
            expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
          } else await res.body?.cancel();
        },
      ),
      { seed: 1116, numRuns: 300 },
    );
    expect(worker.sessions.size).toBe(0);
  });

  it("answers 503 with Retry-After past capacity, reports itself full, and 503 while draining", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await post(JSON.stringify({ sdp: await offer() }));
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const full = await post(JSON.stringify({ sdp: await offer() }));
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("1");
    expect(((await full.json()) as { error: { code: string } }).error.code).toBe("capacity_exceeded");
    expect(((await (await app.request("/healthz")).json()) as { full: boolean }).full).toBe(true);
    for (const id of ids) await pool.endSession(id);
    expect(((await (await app.request("/healthz")).json()) as { full: boolean }).full).toBe(false);
    pool.draining = true;
    try {
      expect((await app.request("/healthz")).status).toBe(503);
      expect((await post(JSON.stringify({ sdp: await offer() }))).status).toBe(503);
    } finally {
      pool.draining = false;
    }
  });
});

describe("transceiver process: token and unparsable requests", () => {
  const cfg = {
    cluster: 3,
    keys: KEYS,
    encapKeys: ENCAP_KEYS_SPEC,
    listen: { address: "127.0.0.1", port: 0 },
    workers: 0,
    udpHost: "127.0.0.1",
    udpPort: 0,
    advertiseHost: "127.0.0.1",
    ingress: { address: "127.0.0.1", port: 3478 },
    capacity: 1,
    silenceTimeoutMs: 30_000,
  };
  const quiet = createLogger("test");

  it("on loopback without --token takes the built-in dev token; elsewhere refuses to start", async () => {
    await expect(
      startTransceiver({ ...cfg, listen: { address: "0.0.0.0", port: 0 } }, quiet),
    ).rejects.toThrow(/--token/);
    const t = await startTransceiver(cfg, quiet);
    try {
      expect((await fetch(`${t.url}/v1/sessions`)).status).toBe(401);
      const ok = await fetch(`${t.url}/v1/sessions`, {
        headers: { authorization: `Bearer ${DEV_SESSION_API_TOKEN}` },
      });
      expect(ok.status).toBe(200);
      expect((await fetch(`${t.url}/metrics`)).status).toBe(200);
      // A method Node's parser does not know: still the API's JSON error shape.
      const raw = await new Promise<string>((resolve, reject) => {
        const s = connect(Number(new URL(t.url).port), "127.0.0.1", () =>
          s.write("FOO /v1/sessions HTTP/1.1\r\nhost: x\r\n\r\n"),
        );
        let out = "";
        s.on("data", (d) => (out += d));
        s.on("end", () => resolve(out));
        s.on("error", reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toMatch(/content-type: application\/json/);
      expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4))).toMatchObject({
        error: { type: "invalid_request_error", code: "bad_request" },
      });
    } finally {
      await t.close();
    }
    const configured = await startTransceiver({ ...cfg, token: "t0k" }, quiet);
    try {
      const dev = { authorization: `Bearer ${DEV_SESSION_API_TOKEN}` };
      expect((await fetch(`${configured.url}/v1/sessions`, { headers: dev })).status).toBe(401);
    } finally {
      await configured.close();
    }
  });
});
