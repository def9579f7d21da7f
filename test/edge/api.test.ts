/**
 * The OpenAI-compatible surface of the Worker, running in workerd (Miniflare)
 * against fake transceivers on loopback: keys, calls, errors, CORS, hangup.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mintEphemeralKey } from "../../edge/auth/ephemeral-key.ts";
import { parseSigningKeys } from "../../shared/signed-token.ts";
import {
  API_KEY,
  type CfInit,
  type Edge,
  OTHER_API_KEY,
  SIGNING_KEY,
  startEdge,
  TRANSCEIVER_TOKEN,
} from "./support/edge.ts";
import { twoRegionEdgeForFile } from "./support/edge-fixture.ts";
import type { FakeTransceiver } from "./support/fake-transceiver.ts";
import { OFFER } from "./support/sdp.ts";
import { CITY, topology } from "./support/topology.ts";

const { edge, eu, us } = twoRegionEdgeForFile();

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function mintKey(body: unknown = {}, key = API_KEY): Promise<string> {
  const r = await edge.fetch("/v1/realtime/client_secrets", {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { value: string }).value;
}

function call(
  key: string | undefined,
  init: CfInit = {},
  path = "/v1/realtime/calls",
  via: Edge = edge,
): Promise<Response> {
  return via.fetch(path, {
    method: "POST",
    body: OFFER,
    cf: CITY.berlin,
    ...init,
    headers: { "content-type": "application/sdp", ...(key ? bearer(key) : {}), ...(init.headers as object) },
  });
}

async function expectError(r: Response, status: number, code: string | null, param: string | null = null) {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await r.json()) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error).toMatchObject({ code, param });
  expect(body.error.message).toEqual(expect.any(String));
  expect(String(body.error.message)).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack traces
  return body.error;
}

const callIdOf = (r: Response) => r.headers.get("location")!.split("/").pop()!;

/** Encodes a form as a browser would (Miniflare's fetch does not take Node's FormData objects). */
/** A multipart/form-data body of these fields, and its content-type (for `call`'s init). */
async function multipart(
  fields: Record<string, string>,
): Promise<{ body: ArrayBuffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  const req = new Request("http://encode.test/", { method: "POST", body: form });
  return { body: await req.arrayBuffer(), headers: { "content-type": req.headers.get("content-type")! } };
}

describe("client secrets", () => {
  it("mint an ek_ key for 600 s by default and echo the session", async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await edge.fetch("/v1/realtime/client_secrets", {
      method: "POST",
      headers: { ...bearer(API_KEY), "content-type": "application/json" },
      body: JSON.stringify({
        session: { type: "realtime", model: "gpt-realtime", instructions: "Be brief." },
      }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { value: string; expires_at: number; session: Record<string, unknown> };
    expect(body.value).toMatch(/^ek_[A-Za-z0-9_-]+$/);
    expect(body.expires_at - before).toBeGreaterThanOrEqual(599);
    expect(body.expires_at - before).toBeLessThanOrEqual(601);
    expect(body.session).toMatchObject({
      type: "realtime",
      model: "gpt-realtime",
      instructions: "Be brief.",
      object: "realtime.session",
    });
    expect(body.session.id).toMatch(/^sess_/);
  });

  it("honour expires_after within 10..7200 s", async () => {
    const mint = (expires_after: unknown) =>
      edge.fetch("/v1/realtime/client_secrets", {
        method: "POST",
        headers: bearer(API_KEY),
        body: JSON.stringify({ expires_after }),
      });
    const r = await mint({ anchor: "created_at", seconds: 10 });
    expect(r.status).toBe(200);
    expect(
      ((await r.json()) as { expires_at: number }).expires_at - Math.floor(Date.now() / 1000),
    ).toBeLessThanOrEqual(10);
    await expectError(
      await mint({ anchor: "created_at", seconds: 9 }),
      400,
      "invalid_value",
      "expires_after.seconds",
    );
    await expectError(await mint({ seconds: 7201 }), 400, "invalid_value", "expires_after.seconds");
    await expectError(await mint({ anchor: "now" }), 400, "invalid_value", "expires_after.anchor");
  });

  it("reject unknown parameters, bad JSON and non-server keys", async () => {
    const post = (body: string, key = API_KEY) =>
      edge.fetch("/v1/realtime/client_secrets", {
        method: "POST",
        headers: { ...bearer(key), "content-type": "application/json" },
        body,
      });
    await expectError(await post('{"model":"x"}'), 400, "unknown_parameter", "model");
    await expectError(await post("{oops"), 400, "invalid_json");
    await expectError(await post("{}", "sk-not-a-key"), 401, "invalid_api_key");
    await expectError(await post("{}", await mintKey()), 401, "invalid_api_key");
    await expectError(
      await edge.fetch("/v1/realtime/client_secrets", { method: "POST" }),
      401,
      "missing_api_key",
    );
  });

  it("also come in the beta shape (POST /v1/realtime/sessions)", async () => {
    const r = await edge.fetch("/v1/realtime/sessions", {
      method: "POST",
      headers: { ...bearer(API_KEY), "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-realtime-preview",
        voice: "verse",
        client_secret: { expires_after: { anchor: "created_at", seconds: 60 } },
      }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as Record<string, unknown> & {
      client_secret: { value: string; expires_at: number };
    };
    expect(body).toMatchObject({
      object: "realtime.session",
      model: "gpt-4o-realtime-preview",
      voice: "verse",
    });
    expect(body.client_secret.value).toMatch(/^ek_/);
    expect(body.client_secret.expires_at - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(60);
    // And the beta key places a beta call, carrying the model it was minted with.
    const placed = await call(body.client_secret.value, {}, "/v1/realtime?model=gpt-4o-realtime-preview");
    expect(placed.status).toBe(201);
    expect(eu.creates()[0]!.body).toMatchObject({
      session: { model: "gpt-4o-realtime-preview", voice: "verse" },
    });
  });
});

describe("calls", () => {
  it("answer an SDP offer with 201, the SDP answer and Location, applying the key's session", async () => {
    const ek = await mintKey({ session: { type: "realtime", instructions: "Speak like a pirate." } });
    const r = await call(ek);
    expect(r.status).toBe(201);
    expect(r.headers.get("content-type")).toBe("application/sdp");
    expect(r.headers.get("location")).toMatch(/^\/v1\/realtime\/calls\/rtc_[A-Za-z0-9_-]+$/);
    const answer = await r.text();
    expect(answer).toMatch(/^v=0\r\n/);
    expect(answer).toContain("a=ice-ufrag:uf1x");
    const sent = eu.creates();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.authorization).toBe(`Bearer ${TRANSCEIVER_TOKEN}`);
    expect(sent[0]!.body).toEqual({
      sdp: OFFER,
      ingress: "127.0.0.1:3478",
      session: { type: "realtime", instructions: "Speak like a pirate." },
    });
    expect(us.creates()).toHaveLength(0);
    // One JSON log line ties the call id to the transceiver's session id.
    const line = edge.logs.map((l) => l.trim()).find((l) => l.includes(callIdOf(r)));
    expect(line && JSON.parse(line)).toMatchObject({
      event: "call.created",
      call_id: callIdOf(r),
      cluster: 1,
    });
  });

  it("take a server API key too", async () => {
    expect((await call(API_KEY)).status).toBe(201);
  });

  it("take multipart offers with a session field, overriding the key's session", async () => {
    const ek = await mintKey({ session: { type: "realtime", instructions: "A", voice: "marin" } });
    const form = await multipart({ sdp: OFFER, session: JSON.stringify({ instructions: "B" }) });
    const r = await call(ek, { ...form, cf: CITY.newYork });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-voice-edge-cluster")).toBe("2");
    expect(us.creates()[0]!.body).toMatchObject({
      sdp: OFFER,
      session: { type: "realtime", instructions: "B", voice: "marin" },
    });
  });

  it("say where the call went", async () => {
    const r = await call(API_KEY, { cf: CITY.saoPaulo });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-voice-edge-cluster")).toBe("2");
    expect(r.headers.get("x-voice-edge-region")).toBe("us");
    expect(r.headers.get("x-voice-edge-ingress")).toBe("gru");
    expect(r.headers.get("x-voice-edge-ingress-address")).toBe("127.0.0.1:3481");
    expect(r.headers.get("x-voice-edge-attempts")).toBe("1");
  });

  it("refuse missing, wrong, forged and expired keys with 401", async () => {
    await expectError(await call(undefined), 401, "missing_api_key");
    await expectError(await call("sk-wrong-key"), 401, "invalid_api_key");
    const ek = await mintKey();
    await expectError(await call(`${ek.slice(0, -2)}AA`), 401, "invalid_api_key");
    const foreign = await mintEphemeralKey(parseSigningKeys(`1:${"z".repeat(40)}`), {
      iat: 0,
      exp: 4_000_000_000,
      own: "AAAAAAAAAAA",
      sid: "sess_x",
    });
    await expectError(await call(foreign), 401, "invalid_api_key");
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintEphemeralKey(parseSigningKeys(SIGNING_KEY), {
      iat: now - 700,
      exp: now - 100,
      own: "AAAAAAAAAAA",
      sid: "sess_y",
    });
    const err = await expectError(await call(expired), 401, "expired_api_key");
    expect(err.message).toMatch(/expired/);
    expect(eu.creates()).toHaveLength(0);
  });

  it("reject empty and invalid SDP with 400 invalid_offer", async () => {
    await expectError(await call(API_KEY, { body: "" }), 400, "invalid_offer");
    await expectError(await call(API_KEY, { body: "hello" }), 400, "invalid_offer");
    await expectError(
      await call(API_KEY, { body: OFFER.replace(/a=fingerprint:.*\r\n/g, "") }),
      400,
      "invalid_offer",
    );
    const r = await call(API_KEY, await multipart({ session: "{}" }));
    await expectError(r, 400, "invalid_offer", "sdp");
    expect(eu.creates()).toHaveLength(0);
  });

  it("pass on a transceiver's invalid_offer without trying other clusters", async () => {
    eu.mode = "bad-offer";
    const err = await expectError(await call(API_KEY), 400, "invalid_offer");
    expect(err.message).toBe("no audio m-line");
    expect(us.creates()).toHaveLength(0);
  });

  it("refuse bodies over the limit with 413, by Content-Length or streamed", async () => {
    // A Worker of its own: workerd closes a connection whose request body it did not read, and
    // Miniflare's HTTP client could hand that closed connection to the next test's request.
    const own = await startEdge({ config: topology([["fra", eu]]) });
    try {
      const big = OFFER + "a=x-pad:".padEnd(70_000, "x");
      await expectError(await call(API_KEY, { body: big }, undefined, own), 413, "request_too_large");
      const chunks = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(4096).fill(0x61));
          c.close();
        },
      });
      await expectError(
        await call(API_KEY, { body: chunks, duplex: "half" } as CfInit, undefined, own),
        413,
        "request_too_large",
      );
      expect(eu.creates()).toHaveLength(0);
    } finally {
      await own.dispose();
    }
  });

  it("refuse other content types with 415", async () => {
    await expectError(
      await call(API_KEY, { headers: { "content-type": "application/json" } }),
      415,
      "unsupported_content_type",
    );
  });
});

describe("errors and routes", () => {
  it("answer unknown routes with JSON 404s, and known paths asked with another method with 405 + Allow", async () => {
    await expectError(await edge.fetch("/v1/nope", { method: "POST" }), 404, null);
    await expectError(await edge.fetch("/nope"), 404, null); // "/" is the demo page
    const err = await expectError(await edge.fetch("/v1/realtime/calls"), 405, "method_not_allowed");
    expect(err.message).toBe("Invalid method (GET /v1/realtime/calls): this path takes POST.");
    // Every method workerd passes to the Worker (it answers methods it does not know itself: docs/edge.md).
    const paths: [string, string][] = [
      ["/v1/realtime/calls", "POST, OPTIONS"],
      ["/v1/realtime/client_secrets", "POST, OPTIONS"],
      ["/v1/realtime/calls/rtc_x/hangup", "POST, OPTIONS"],
      ["/v1/live/sessions", "POST, OPTIONS"],
      ["/healthz", "GET, HEAD, OPTIONS"],
      ["/", "GET, HEAD, OPTIONS"],
      ["/x", ""],
    ];
    for (const method of ["PUT", "PATCH", "DELETE", "PROPFIND", "MKCOL", "PURGE", "HEAD", "GET", "POST"]) {
      for (const [path, allow] of paths) {
        if (allow.split(", ").includes(method)) continue;
        const r = await edge.fetch(path, { method });
        const status = allow ? 405 : 404;
        expect(r.status, `${method} ${path}`).toBe(status);
        if (allow) expect(r.headers.get("allow"), `${method} ${path}`).toBe(allow);
        expect(r.headers.get("x-request-id"), `${method} ${path}`).toMatch(/^req_/);
        if (method === "HEAD") continue; // no body
        await expectError(r, status, allow ? "method_not_allowed" : null);
      }
    }
  });

  it("never answer 5xx or a non-JSON error to arbitrary requests (seeded fuzz)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH"),
        fc.constantFrom(
          "/v1/realtime/calls",
          "/v1/realtime",
          "/v1/realtime/client_secrets",
          "/v1/realtime/sessions",
          "/v1/realtime/calls/rtc_x/hangup",
          "/v1/edge/health",
          "/v1/x",
        ),
        fc.constantFrom("application/json", "application/sdp", "multipart/form-data; boundary=x", ""),
        fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 6 })),
        fc.constantFrom(API_KEY, "sk-wrong", undefined),
        async (method, path, type, body, key) => {
          const r = await edge.fetch(path, {
            method,
            headers: { ...(type ? { "content-type": type } : {}), ...(key ? bearer(key) : {}) },
            body: method === "GET" ? undefined : body,
            cf: CITY.berlin,
          });
          expect(r.status, `${method} ${path}`).toBeLessThan(500);
          if (r.status >= 400) {
            expect(r.headers.get("content-type")).toMatch(/^application\/json/);
            const e = ((await r.json()) as { error: Record<string, unknown> }).error;
            expect(Object.keys(e).sort()).toEqual(["code", "message", "param", "type"]);
            expect(e.type).toBe("invalid_request_error");
          } else await r.body?.cancel();
        },
      ),
      { seed: 1116, numRuns: 150 },
    );
    expect(eu.creates()).toHaveLength(0);
  });

  it("bound the depth of every JSON body, before any transceiver sees it (400, no pool harmed)", async () => {
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
    for (const path of ["/v1/realtime/client_secrets", "/v1/realtime/sessions"]) {
      const r = await edge.fetch(path, {
        method: "POST",
        headers: { ...bearer(API_KEY), "content-type": "application/json" },
        body: `{"session": ${deep(5000)}}`,
      });
      const e = await expectError(r, 400, "json_too_deep");
      expect(e.type).toBe("invalid_request_error");
    }
    const tooDeep = await multipart({ sdp: OFFER, session: deep(5000) });
    await expectError(await call(API_KEY, tooDeep), 400, "json_too_deep", "session");
    // A session nested within the bound is fine.
    const fine = await multipart({ sdp: OFFER, session: deep(8) });
    expect((await call(API_KEY, fine)).status).toBe(201);
    expect(eu.creates()).toHaveLength(1);
    expect(us.creates()).toHaveLength(0);
    // #16 item 6: one request's content never counts against a pool: every pool is still ready.
    const health = await edge.fetch("/v1/edge/health", { headers: bearer(API_KEY) });
    const pools = ((await health.json()) as { pools: { availability: string }[] }).pools;
    expect(pools.map((p) => p.availability)).toEqual(pools.map(() => "ready"));
  });

  it("move on from a transceiver's error answer without holding it against the pool's health", async () => {
    eu.mode = "error";
    const r = await call(API_KEY);
    expect(r.status).toBe(201);
    expect(r.headers.get("x-voice-edge-cluster")).toBe("2");
    const health = await edge.fetch("/v1/edge/health", { headers: bearer(API_KEY) });
    const pools = ((await health.json()) as { pools: Array<{ id: number; availability: string }> }).pools;
    expect(pools.find((p) => p.id === 1)?.availability).toBe("ready");
  });

  it("report edge liveness without a key, and pool health with one", async () => {
    expect(await (await edge.fetch("/healthz")).json()).toEqual({ status: "ok", pools: 2 });
    await expectError(await edge.fetch("/v1/edge/health"), 401, "missing_api_key");
    const r = await edge.fetch("/v1/edge/health", { headers: bearer(API_KEY) });
    const body = (await r.json()) as { pools: Array<{ id: number; availability: string }> };
    expect(body.pools.map((p) => [p.id, p.availability])).toEqual([
      [1, "ready"],
      [2, "ready"],
    ]);
  });
});

describe("CORS", () => {
  it("answer preflights with the SDK's headers and the ones the browser asks for", async () => {
    const r = await edge.fetch("/v1/realtime/calls", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-openai-agents-sdk, x-custom-trace",
      },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = r.headers.get("access-control-allow-headers")!.split(", ");
    expect(allowed).toEqual(
      expect.arrayContaining(["authorization", "content-type", "x-openai-agents-sdk", "x-custom-trace"]),
    );
    expect(await r.text()).toBe("");
  });

  it("expose Location and the steering headers on answers, and allow reading errors", async () => {
    const ok = await call(await mintKey(), { headers: { origin: "https://app.example" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    const exposed = ok.headers.get("access-control-expose-headers")!.split(", ");
    expect(exposed).toEqual(
      expect.arrayContaining([
        "location",
        "x-voice-edge-cluster",
        "x-voice-edge-ingress",
        "x-voice-edge-attempts",
      ]),
    );
    const bad = await call("sk-wrong-key", { headers: { origin: "https://app.example" } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("hangup", () => {
  const hangup = (callId: string, key?: string) =>
    edge.fetch(`/v1/realtime/calls/${callId}/hangup`, { method: "POST", headers: key ? bearer(key) : {} });

  it("reaches the cluster that owns the call, with no lookup table", async () => {
    const ek = await mintKey();
    const inEu = await call(ek, { cf: CITY.berlin });
    const inUs = await call(ek, { cf: CITY.newYork });
    expect([inEu.headers.get("x-voice-edge-cluster"), inUs.headers.get("x-voice-edge-cluster")]).toEqual([
      "1",
      "2",
    ]);
    const r = await hangup(callIdOf(inUs), ek);
    expect(r.status).toBe(200);
    const deletes = (f: FakeTransceiver) =>
      f.received.filter((x) => x.method === "DELETE").map((x) => x.path);
    expect(deletes(us)).toEqual([`/v1/sessions/${us.created.at(-1)}`]);
    expect(deletes(eu)).toEqual([]);
    expect(us.received.at(-1)!.authorization).toBe(`Bearer ${TRANSCEIVER_TOKEN}`);
    expect((await hangup(callIdOf(inEu), ek)).status).toBe(200);
    expect(deletes(eu)).toHaveLength(1);
    // Hanging up again: the session is gone.
    await expectError(await hangup(callIdOf(inEu), ek), 404, "call_not_found", "call_id");
  });

  it("is allowed to the creating key and to the API key that minted it, not to others", async () => {
    const ek = await mintKey();
    const sibling = await mintKey(); // same owner, different key
    const strangerEk = await mintKey({}, OTHER_API_KEY);
    const id = callIdOf(await call(ek));
    await expectError(await hangup(id, sibling), 403, "forbidden");
    await expectError(await hangup(id, strangerEk), 403, "forbidden");
    await expectError(await hangup(id, OTHER_API_KEY), 403, "forbidden");
    await expectError(await hangup(id), 401, "missing_api_key");
    expect((await hangup(id, API_KEY)).status).toBe(200);

    const byApiKey = callIdOf(await call(OTHER_API_KEY));
    await expectError(await hangup(byApiKey, API_KEY), 403, "forbidden");
    expect((await hangup(byApiKey, OTHER_API_KEY)).status).toBe(200);
  });

  it("treats forged or malformed call ids as unknown", async () => {
    const id = callIdOf(await call(API_KEY));
    const forged = id.slice(0, 10) + (id[10] === "A" ? "B" : "A") + id.slice(11);
    await expectError(await hangup(forged, API_KEY), 404, "call_not_found", "call_id");
    await expectError(await hangup("rtc_nope", API_KEY), 404, "call_not_found", "call_id");
    expect(eu.received.filter((x) => x.method === "DELETE")).toHaveLength(0);
  });

  it("says so when the owning cluster does not answer", async () => {
    const id = callIdOf(await call(API_KEY));
    eu.mode = "error";
    await expectError(await hangup(id, API_KEY), 502, "cluster_unreachable");
  });
});

describe("ICE restart (POST /v1/realtime/calls/{call_id} with a new offer)", () => {
  const restart = (callId: string, key?: string, body = OFFER, type = "application/sdp") =>
    edge.fetch(`/v1/realtime/calls/${callId}`, {
      method: "POST",
      body,
      headers: { "content-type": type, ...(key ? bearer(key) : {}) },
    });

  it("forwards the offer to the owning cluster's session and answers its SDP", async () => {
    const ek = await mintKey();
    const inUs = await call(ek, { cf: CITY.newYork });
    const session = us.created.at(-1)!;
    const r = await restart(callIdOf(inUs), ek);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/sdp");
    expect(r.headers.get("x-voice-edge-cluster")).toBe("2");
    expect(await r.text()).toMatch(/a=ice-ufrag:uf2r\d+/);
    const sent = us.received.at(-1)!;
    expect(sent).toMatchObject({ method: "POST", path: `/v1/sessions/${session}/offer` });
    expect(sent.authorization).toBe(`Bearer ${TRANSCEIVER_TOKEN}`);
    expect((sent.body as { sdp: string }).sdp).toBe(OFFER);
    expect(eu.received.filter((x) => x.path.endsWith("/offer"))).toEqual([]);
  });

  it("is for the call's keys only, and says what is wrong in the API's error shape", async () => {
    const ek = await mintKey();
    const id = callIdOf(await call(ek));
    await expectError(await restart(id, await mintKey({}, OTHER_API_KEY)), 403, "forbidden");
    await expectError(await restart(id), 401, "missing_api_key");
    await expectError(await restart("rtc_nope", API_KEY), 404, "call_not_found", "call_id");
    await expectError(await restart(id, ek, "v=0"), 400, "invalid_offer");
    await expectError(await restart(id, ek, OFFER, "text/plain"), 415, "unsupported_content_type");
    eu.mode = "bad-offer";
    await expectError(await restart(id, ek), 400, "invalid_offer");
    eu.mode = "error";
    await expectError(await restart(id, ek), 502, "cluster_unreachable");
    eu.mode = "ok";
    // A call that has ended cannot be restarted.
    expect(
      (await edge.fetch(`/v1/realtime/calls/${id}/hangup`, { method: "POST", headers: bearer(ek) })).status,
    ).toBe(200);
    await expectError(await restart(id, ek), 404, "call_not_found", "call_id");
  });
});

// GPT-Live over WebRTC: the request and answer shapes of the `openai` package's live.create.
const live = (body: unknown, key: string | null = API_KEY) =>
  edge.fetch("/v1/live/sessions", {
    method: "POST",
    cf: CITY.berlin,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const valid = {
  session: { model: "gpt-live-1", instructions: "be brief" },
  transport: { type: "webrtc", sdp: OFFER },
};

describe("POST /v1/live/sessions", () => {
  it("creates a session on the nearest cluster and answers Live's shape", async () => {
    const r = await live(valid);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { session: { id: string }; transport: { type: string; sdp: string } };
    expect(Object.keys(body).sort()).toEqual(["session", "transport"]);
    expect(body.session.id).toMatch(/^rtc_/);
    expect(body.transport.type).toBe("webrtc");
    expect(body.transport.sdp).toMatch(/^v=0/);
    expect(r.headers.get("x-voice-edge-cluster")).toBe("1");
    // The transceiver gets the offer and the session config marked as Live.
    const [create] = eu.creates();
    expect(create!.body).toMatchObject({
      sdp: OFFER,
      session: { model: "gpt-live-1", instructions: "be brief", type: "live" },
    });
  });

  it("hangs up by the session id it answered, once", async () => {
    const { session } = (await (await live(valid)).json()) as { session: { id: string } };
    const hangup = () =>
      edge.fetch(`/v1/live/sessions/${session.id}/hangup`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}` },
      });
    expect((await hangup()).status).toBe(200);
    expect(eu.received.filter((x) => x.method === "DELETE").map((x) => x.path)).toEqual([
      `/v1/sessions/${eu.created.at(-1)}`,
    ]);
    await expectError(await hangup(), 404, "session_not_found", "session_id");
  });

  it("refuses bad requests before any transceiver is asked", async () => {
    // [body, code, param]
    const refused: [unknown, string, string?][] = [
      [{ session: valid.session }, "missing_required_parameter", "transport"],
      [{ ...valid, transport: "webrtc" }, "invalid_type", "transport"],
      [{ ...valid, transport: { type: "websocket", sdp: OFFER } }, "invalid_value", "transport.type"],
      [{ ...valid, transport: { type: "webrtc" } }, "missing_required_parameter", "transport.sdp"],
      [
        { ...valid, transport: { type: "webrtc", sdp: "v=0\r\nnot an offer" } },
        "invalid_offer",
        "transport.sdp",
      ],
      [{ transport: valid.transport }, "missing_required_parameter", "session"],
      [{ ...valid, session: { instructions: "x" } }, "missing_required_parameter", "session.model"],
      ["{not json", "invalid_json"],
    ];
    for (const [body, code, param] of refused) await expectError(await live(body), 400, code, param);
    expect(eu.creates()).toHaveLength(0);
    expect(us.creates()).toHaveLength(0);
  });

  it("takes a project API key only", async () => {
    const r = await live(valid, null);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("missing_api_key");
    const ek = await live(valid, "ek_not_for_live");
    expect(ek.status).toBe(401);
    expect(((await ek.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    expect(eu.creates()).toHaveLength(0);
  });
});
