/**
 * The transceiver's sideband WebSocket, end to end inside one host: a forked
 * worker in bridge mode (so every frame crosses the IPC), a werift client on
 * the data channel, and a backend that records what it is told.
 */

import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import type { Relay } from "../../media/relay/server.ts";
import { createLogger } from "../../media/runtime/log.ts";
import { type RunningTransceiver, startTransceiver } from "../../media/transceiver/main.ts";
import { sidebandPath } from "../../shared/session-api.ts";
import { ENCAP_KEYS_SPEC } from "../support/relay-fixtures.ts";
import { startTestRelay, TEST_KEYS, txFetch } from "../support/stack.ts";
import { createVoiceClient, type Json, type VoiceClient } from "../support/voice-client.ts";

const TOKEN = "sideband-test-token";
let relay: Relay;
let tx: RunningTransceiver;
let backend: WebSocketServer;
/** Client events each backend socket got, by session id (in the order it got them). */
const told = new Map<string, Json[]>();
const clients: VoiceClient[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  relay = await startTestRelay(12);
  const http = createServer();
  backend = new WebSocketServer({ server: http });
  backend.on("connection", (ws, req) => {
    const session = new URL(req.url!, "http://x").searchParams.get("session_id")!;
    const log: Json[] = [];
    told.set(session, log);
    ws.on("message", (data, binary) => {
      if (binary) return;
      const e = JSON.parse(String(data)) as Json;
      log.push(e);
      if (e.type === "response.create")
        ws.send(JSON.stringify({ type: "response.done", response: { id: "resp_sb", status: "completed" } }));
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  const url = `ws://127.0.0.1:${(http.address() as { port: number }).port}/`;
  tx = await startTransceiver(
    {
      cluster: 12,
      keys: TEST_KEYS,
      encapKeys: ENCAP_KEYS_SPEC,
      listen: { address: "127.0.0.1", port: 0 },
      workers: 1,
      udpHost: "127.0.0.1",
      udpPort: 0,
      advertiseHost: "127.0.0.1",
      ingress: relay.publicAddress,
      capacity: 10,
      silenceTimeoutMs: 30_000,
      token: TOKEN,
      bridge: { backends: { default: url, "*": url }, reconnect: 0, connectTimeoutMs: 2000 },
    },
    createLogger("test"),
  );
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await Promise.all(clients.map((c) => c.close()));
  await tx?.close();
  for (const c of backend?.clients ?? []) c.terminate();
  backend?.close();
  await relay?.close();
});

async function call(session: Json = {}): Promise<{ vc: VoiceClient; id: string }> {
  const vc = createVoiceClient();
  clients.push(vc);
  const r = await txFetch(
    `${tx.url}/v1/sessions`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sdp: await vc.offer(), session }),
    },
    TOKEN,
  );
  expect(r.status).toBe(201);
  const created = (await r.json()) as { id: string; sdp: string };
  await vc.answer(created.sdp);
  await vc.ready();
  return { vc, id: created.id };
}

interface Sideband {
  ws: WebSocket;
  events: Json[];
  closed: Promise<{ code: number; reason: string }>;
  waitFor(type: string, from?: number): Promise<Json>;
}

type Refusal = { status: number; error: Json };

function sideband(id: string, token = TOKEN): Promise<Sideband | Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${tx.url.replace(/^http/, "ws")}${sidebandPath(id)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    sockets.push(ws);
    const events: Json[] = [];
    const waiters = new Set<() => void>();
    ws.on("message", (d) => {
      events.push(JSON.parse(String(d)) as Json);
      for (const w of [...waiters]) w();
    });
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.once("close", (code, reason) => r({ code, reason: String(reason) })),
    );
    const waitFor = (type: string, from = 0) =>
      new Promise<Json>((res) => {
        const check = () => {
          const e = events.slice(from).find((x) => x.type === type);
          if (!e) return;
          waiters.delete(check);
          res(e);
        };
        waiters.add(check);
        check();
      });
    ws.once("open", () => resolve({ ws, events, closed, waitFor }));
    ws.once("unexpected-response", (_q, res) => {
      let t = "";
      res.on("data", (c: Buffer) => (t += c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, error: (JSON.parse(t) as { error: Json }).error }),
      );
    });
    ws.once("error", reject);
  });
}

/** Polls `cond` (state that other processes change) until it holds or the deadline passes. */
async function waitUntil(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The host's /metrics as sample -> value. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`${tx.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith("#")) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** What the backend of a session (public id) was told; its socket names the local id. */
const toldOf = (id: string): Json[] => [...told].find(([local]) => id.endsWith(local))![1];

const attached = async (id: string): Promise<Sideband> => {
  const s = await sideband(id);
  if ("status" in s) throw new Error(`sideband refused: ${s.status} ${JSON.stringify(s.error)}`);
  return s;
};

describe("the sideband of a session", () => {
  it("gets session.created first, then the events the data channel gets; its session.update reaches the backend and both sides", async () => {
    const { vc, id } = await call({ instructions: "be brief" });
    await vc.waitEvent("session.created");
    const sb = await attached(id);
    const first = await sb.waitFor("session.created");
    expect(sb.events[0]).toBe(first);
    expect(first.session).toMatchObject({ instructions: "be brief" });
    sb.ws.send(JSON.stringify({ type: "session.update", session: { instructions: "from the server" } }));
    const onChannel = (await vc.waitEvent("session.updated")).event;
    const onSideband = await sb.waitFor("session.updated");
    expect(onSideband).toEqual(onChannel);
    expect(onChannel.session).toMatchObject({ instructions: "from the server" });
    // The client's response.create: the backend's answer goes to both.
    vc.send({ type: "response.create" });
    await sb.waitFor("response.done");
    await vc.waitEvent("response.done");
    const log = toldOf(id);
    expect(log.filter((e) => e.type === "session.update").at(-1)!.session).toMatchObject({
      instructions: "from the server",
    });
  });

  it("takes client events from the channel and the sideband into the backend in one order, each sender's order kept", async () => {
    const { vc, id } = await call();
    await vc.waitEvent("session.created");
    const sb = await attached(id);
    await sb.waitFor("session.created");
    const log = toldOf(id);
    const before = log.length;
    for (let i = 0; i < 20; i++) {
      vc.send({
        type: "conversation.item.create",
        item: { id: `c${i}`, type: "message", role: "user", content: [] },
      });
      sb.ws.send(
        JSON.stringify({
          type: "conversation.item.create",
          item: { id: `s${i}`, type: "message", role: "user", content: [] },
        }),
      );
    }
    await waitUntil(() => log.length >= before + 40, "40 items at the backend", 10_000);
    const ids = log.slice(before).map((e) => (e.item as Json).id as string);
    expect(ids.filter((x) => x.startsWith("c"))).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
    expect(ids.filter((x) => x.startsWith("s"))).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`));
  });

  it("answers a malformed event with an OpenAI-shaped error on that sideband only; the call goes on", async () => {
    const { vc, id } = await call();
    await vc.waitEvent("session.created");
    const sb = await attached(id);
    const other = await attached(id);
    sb.ws.send("{ not json");
    sb.ws.send(JSON.stringify({ type: "no.such.event", event_id: "evt_1" }));
    const err = await sb.waitFor("error");
    expect(err.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
    await waitUntil(() => sb.events.filter((e) => e.type === "error").length === 2, "two errors");
    expect(sb.events.filter((e) => e.type === "error")[1]!.error).toMatchObject({
      code: "unknown_event_type",
      event_id: "evt_1",
    });
    sb.ws.send(JSON.stringify({ type: "response.create" }));
    await other.waitFor("response.done");
    await vc.waitEvent("response.done");
    expect(vc.events.some((e) => e.event.type === "error")).toBe(false);
    expect(other.events.some((e) => e.type === "error")).toBe(false);
  });

  it("allows 4 sidebands, refuses a 5th with 409 sideband_limit, and a sideband leaving never ends the call", async () => {
    const { vc, id } = await call();
    await vc.waitEvent("session.created");
    const four = await Promise.all([1, 2, 3, 4].map(() => attached(id)));
    const fifth = (await sideband(id)) as Refusal;
    expect(fifth.status).toBe(409);
    expect(fifth.error).toMatchObject({ code: "sideband_limit", type: "invalid_request_error" });
    for (const s of four) s.ws.close();
    await Promise.all(four.map((s) => s.closed));
    // Slots free once the worker has heard of the closes: poll with a deadline.
    let again: Sideband | Refusal = fifth;
    const deadline = Date.now() + 5000;
    while ("status" in again && Date.now() < deadline) again = await sideband(id);
    expect("ws" in again).toBe(true);
    const r = await txFetch(`${tx.url}/v1/sessions/${id}`, {}, TOKEN);
    expect(r.status).toBe(200);
    vc.send({ type: "response.create" });
    await vc.waitEvent("response.done");
  });

  it("a frame over the bound closes that sideband with 1009; the call goes on", async () => {
    const { vc, id } = await call();
    await vc.waitEvent("session.created");
    const sb = await attached(id);
    sb.ws.send("x".repeat(600 * 1024));
    expect((await sb.closed).code).toBe(1009);
    const r = await txFetch(`${tx.url}/v1/sessions/${id}`, {}, TOKEN);
    expect(r.status).toBe(200);
  });

  it("the call ending closes its sidebands with 1000 after the final events (Live: session.closed first)", async () => {
    const { vc, id } = await call({ type: "live", model: "gpt-live-1" });
    await vc.waitEvent("session.started");
    const sb = await attached(id);
    expect((await sb.waitFor("session.started")).session).toMatchObject({ status: "active" });
    vc.startMic();
    const framesOut = async () =>
      (
        (await (await txFetch(`${tx.url}/v1/sessions/${id}`, {}, TOKEN)).json()) as {
          bridge: { link: { audioFramesOut: number } };
        }
      ).bridge.link.audioFramesOut;
    const deadline = Date.now() + 5000;
    while ((await framesOut()) < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const before = await scrape();
    const r = await txFetch(`${tx.url}/v1/sessions/${id}`, { method: "DELETE" }, TOKEN);
    expect(r.status).toBe(204);
    const closed = await sb.closed;
    expect(closed).toEqual({ code: 1000, reason: "call ended: ended" });
    expect(sb.events.at(-1)).toMatchObject({ type: "session.closed", reason: "close_requested" });
    // Ended: no sideband attaches any more.
    const late = (await sideband(id)) as Refusal;
    expect(late.status).toBe(404);
    // Its usage reached the host's metrics: one more ended session, its duration, its input audio.
    const after = await scrape();
    const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(d('voice_edge_transceiver_sessions_ended_total{reason="ended"}')).toBe(1);
    expect(d('voice_edge_transceiver_session_duration_seconds_count{reason="ended"}')).toBe(1);
    expect(d('voice_edge_transceiver_session_duration_seconds_sum{reason="ended"}')).toBeGreaterThan(0);
    expect(d('voice_edge_transceiver_audio_seconds_total{direction="input"}')).toBeGreaterThanOrEqual(0.2);
  });

  it("refuses a wrong token (401) and unknown or forged session ids (404), in the API's error shape", async () => {
    const { vc, id } = await call();
    await vc.waitEvent("session.created");
    const wrong = (await sideband(id, "nope")) as Refusal;
    expect(wrong.status).toBe(401);
    expect(wrong.error.code).toBe("invalid_api_key");
    for (const bad of ["w0_AAAAAAAAAAAAAAAA", `${id.slice(0, -2)}xx`, "%ZZ"]) {
      const r = (await sideband(bad)) as Refusal;
      expect(r.status).toBe(404);
      expect(r.error.code).toBe("session_not_found");
    }
  });
});
