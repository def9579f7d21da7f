/**
 * The sideband WebSocket on the Worker (Miniflare, real sockets): proxied to
 * the transceiver owning the call, with either form of the API key, and
 * OpenAI-shaped refusals for every bad input.
 */
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { API_KEY, OTHER_API_KEY, TRANSCEIVER_TOKEN } from "./support/edge.ts";
import { twoRegionEdgeForFile } from "./support/edge-fixture.ts";
import { OFFER } from "./support/sdp.ts";
import { CITY } from "./support/topology.ts";

const { edge, eu, us } = twoRegionEdgeForFile();
const open: WebSocket[] = [];

afterAll(() => {
  for (const ws of open) ws.terminate();
});

type Json = Record<string, unknown>;
type Attached = { ws: WebSocket; first: Json };
type Refused = { status: number; body: { error: Json } };

/** Opens a sideband; resolves with the socket and its first event, or with the refusal. */
function attach(
  path: string,
  o: { key?: string; protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<Attached | Refused> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${edge.url.replace(/^http/, "ws")}${path}`, o.protocols ?? [], {
      headers: { ...(o.key ? { authorization: `Bearer ${o.key}` } : {}), ...o.headers },
    });
    open.push(ws);
    ws.once("message", (d) => resolve({ ws, first: JSON.parse(String(d)) as Json }));
    ws.once("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    ws.once("error", (e) => reject(e));
  });
}

function expectRefused(r: Attached | Refused, status: number, code: string, param: string | null = null) {
  expect("status" in r ? r.status : "attached").toBe(status);
  const { error } = (r as Refused).body;
  expect(Object.keys(error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(error).toMatchObject({ code, param, type: "invalid_request_error" });
  return String(error.message);
}

async function newCall(key = API_KEY, cf: Record<string, string> = CITY.berlin): Promise<string> {
  const r = await edge.fetch("/v1/realtime/calls", {
    method: "POST",
    body: OFFER,
    cf,
    headers: { "content-type": "application/sdp", authorization: `Bearer ${key}` },
  });
  expect(r.status).toBe(201);
  return r.headers.get("location")!.split("/").pop()!;
}

const nextMessage = (ws: WebSocket) =>
  new Promise<Json>((r) => ws.once("message", (d) => r(JSON.parse(String(d)) as Json)));

describe("GET /v1/realtime?call_id=…", () => {
  it("proxies the WebSocket to the transceiver owning the call, with the edge's own credential", async () => {
    const inUs = await newCall(API_KEY, CITY.newYork);
    const r = await attach(`/v1/realtime?call_id=${inUs}`, { key: API_KEY });
    expect("ws" in r).toBe(true);
    const { ws, first } = r as Attached;
    expect(first).toEqual({ type: "session.created", session: { id: us.created.at(-1) } });
    ws.send('{"type":"response.create"}');
    expect(await nextMessage(ws)).toEqual({ type: "echo", text: '{"type":"response.create"}' });
    const up = us.received.filter((x) => x.method === "UPGRADE");
    expect(up.map((x) => x.path)).toEqual([`/v1/sessions/${us.created.at(-1)}/sideband`]);
    expect(up[0]!.authorization).toBe(`Bearer ${TRANSCEIVER_TOKEN}`);
    expect(eu.received.some((x) => x.method === "UPGRADE")).toBe(false);
    ws.close();
  });

  it("takes the key as the browser client's subprotocol, answers `realtime`, and never passes the key on", async () => {
    const id = await newCall();
    const r = await attach(`/v1/realtime?call_id=${id}`, {
      protocols: ["realtime", `openai-insecure-api-key.${API_KEY}`],
    });
    expect("ws" in r).toBe(true);
    expect((r as Attached).ws.protocol).toBe("realtime");
    const up = eu.received.find((x) => x.method === "UPGRADE")!;
    expect(up.protocol).toBe("realtime");
    expect(JSON.stringify(up)).not.toContain(API_KEY);
    (r as Attached).ws.close();
  });

  it("refuses ek_ keys, wrong keys and no key with 401s that say what to send", async () => {
    const ek = (await (
      await edge.fetch("/v1/realtime/client_secrets", {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: "{}",
      })
    ).json()) as { value: string };
    const id = await newCall(ek.value);
    const path = `/v1/realtime?call_id=${id}`;
    expect(expectRefused(await attach(path, { key: ek.value }), 401, "invalid_api_key")).toMatch(
      /server API key.*ephemeral/,
    );
    expectRefused(
      await attach(path, { protocols: ["realtime", `openai-insecure-api-key.${ek.value}`] }),
      401,
      "invalid_api_key",
    );
    expectRefused(await attach(path, { key: "sk-not-a-key-of-ours" }), 401, "invalid_api_key");
    expect(expectRefused(await attach(path), 401, "missing_api_key")).toMatch(/openai-insecure-api-key/);
    // The API key that minted the ephemeral key owns the call: it may attach.
    const ok = await attach(path, { key: API_KEY });
    expect("ws" in ok).toBe(true);
    (ok as Attached).ws.close();
    expect(eu.received.filter((x) => x.method === "UPGRADE")).toHaveLength(1);
  });

  it("answers 404 call_not_found for forged, unknown, foreign and ended calls, reaching no transceiver for the first three", async () => {
    const id = await newCall();
    const forged = `${id.slice(0, -3)}${id.endsWith("AAA") ? "BBB" : "AAA"}`;
    for (const bad of [forged, "rtc_nope", "not-even-a-call-id"])
      expectRefused(
        await attach(`/v1/realtime?call_id=${bad}`, { key: API_KEY }),
        404,
        "call_not_found",
        "call_id",
      );
    // Another key's call does not exist for this key.
    expectRefused(
      await attach(`/v1/realtime?call_id=${id}`, { key: OTHER_API_KEY }),
      404,
      "call_not_found",
      "call_id",
    );
    expect(eu.received.filter((x) => x.method === "UPGRADE")).toHaveLength(0);
    // Ended: the transceiver no longer has the session.
    eu.sessions.clear();
    expectRefused(
      await attach(`/v1/realtime?call_id=${id}`, { key: API_KEY }),
      404,
      "call_not_found",
      "call_id",
    );
  });

  it("a transceiver host that is gone is a 404 (its calls went with it); the other cluster is untouched", async () => {
    const inEu = await newCall();
    const inUs = await newCall(API_KEY, CITY.newYork);
    await eu.stop();
    try {
      expectRefused(
        await attach(`/v1/realtime?call_id=${inEu}`, { key: API_KEY }),
        404,
        "call_not_found",
        "call_id",
      );
      const r = await attach(`/v1/realtime?call_id=${inUs}`, { key: API_KEY });
      expect("ws" in r).toBe(true);
      (r as Attached).ws.close();
    } finally {
      await eu.start();
    }
  });

  it("passes the transceiver's 409 sideband_limit on; refuses plain GETs and a missing call_id", async () => {
    const id = await newCall();
    eu.sideband = "limit";
    expectRefused(await attach(`/v1/realtime?call_id=${id}`, { key: API_KEY }), 409, "sideband_limit");
    const plain = await edge.fetch(`/v1/realtime?call_id=${id}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(plain.status).toBe(426);
    expect(((await plain.json()) as { error: Json }).error.code).toBe("upgrade_required");
    expectRefused(
      await attach("/v1/realtime?model=gpt-realtime", { key: API_KEY }),
      400,
      "missing_required_parameter",
      "call_id",
    );
  });
});

describe("GET /v1/live/sessions/{id}/attach", () => {
  it("attaches to a GPT-Live session by its id; unknown ids are 404 session_not_found", async () => {
    const r = await edge.fetch("/v1/live/sessions", {
      method: "POST",
      cf: CITY.berlin,
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ session: { model: "gpt-live-1" }, transport: { type: "webrtc", sdp: OFFER } }),
    });
    expect(r.status).toBe(200);
    const { session } = (await r.json()) as { session: { id: string } };
    const a = await attach(`/v1/live/sessions/${session.id}/attach`, { key: API_KEY });
    expect("ws" in a).toBe(true);
    expect((a as Attached).first).toMatchObject({ type: "session.created" });
    (a as Attached).ws.close();
    expectRefused(
      await attach("/v1/live/sessions/rtc_nope/attach", { key: API_KEY }),
      404,
      "session_not_found",
      "session_id",
    );
  });
});
