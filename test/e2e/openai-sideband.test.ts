/**
 * The sideband with the official `openai` package (7.55.0) against
 * `voice-edge stack` over HTTPS/WSS (the stack's own certificate, trusted as
 * the `ca` of the package's `ws` options): OpenAIRealtimeWS({ callID }) on a
 * live Realtime call and SidebandWS on a GPT-Live session, each next to a
 * werift WebRTC client, plus the bad input of issue #12.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";
import { SidebandWS } from "openai/resources/live/sideband/ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { freePort } from "../support/stack.ts";
import { createVoiceClient, type Json, type VoiceClient } from "../support/voice-client.ts";
import { Waiters } from "../support/waiters.ts";

const KEY = "sk-voice-edge-dev-key";
const tlsDir = mkdtempSync(join(tmpdir(), "voice-edge-tls-"));
let stack: RunningStack;
let openai: OpenAI;
let ca: string;
const clients: VoiceClient[] = [];
const closers: Array<() => void> = [];

beforeAll(async () => {
  stack = await startLoopbackStack([await loopbackRegion("eu", 34)], {
    edge: { httpsPort: await freePort(), tlsDir },
  });
  const https = stack.edge!.https!;
  expect(https.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  ca = readFileSync(https.certPath, "utf8");
  openai = new OpenAI({ apiKey: KEY, baseURL: `${https.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  for (const c of closers) c();
  await Promise.all(clients.map((c) => c.close()));
  await stack?.close();
  rmSync(tlsDir, { recursive: true, force: true });
});

/** A werift client on a Realtime call created over plain HTTP (the SDK's fetch would need the CA too). */
async function realtimeCall(): Promise<{ vc: VoiceClient; callId: string }> {
  const vc = createVoiceClient();
  clients.push(vc);
  const r = await fetch(`${stack.edge!.url}/v1/realtime/calls`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" },
    body: await vc.offer(),
  });
  expect(r.status).toBe(201);
  const callId = r.headers.get("location")!.split("/").at(-1)!;
  await vc.answer(await r.text());
  await vc.ready();
  await vc.waitEvent("session.created");
  return { vc, callId };
}

/** Collects what an SDK emitter hands out, to wait on (with a deadline) and to inspect. */
function recorder() {
  const events: Json[] = [];
  const errors: Array<{ message: string; error?: Json }> = [];
  const waiters = new Waiters();
  const wake = () => waiters.wake();
  const until = async (cond: () => boolean, what: string, ms = 8000) => {
    await waiters.until(
      () => cond() || undefined,
      ms,
      () => `timed out waiting for ${what}; got ${events.map((e) => e.type).join(",")}`,
    );
  };
  return {
    events,
    errors,
    onEvent: (e: Json) => {
      events.push(e);
      wake();
    },
    onError: (e: { message: string; error?: unknown }) => {
      errors.push({ message: e.message, error: e.error as Json | undefined });
      wake();
    },
    until,
    waitFor: async (type: string, from = 0) => {
      await until(() => events.slice(from).some((e) => e.type === type), type);
      return events.slice(from).find((e) => e.type === type)!;
    },
  };
}

const closedWith = (socket: { once(e: "close", f: (code: number, reason: Buffer) => void): unknown }) =>
  new Promise<{ code: number; reason: string }>((r) =>
    socket.once("close", (code, reason) => r({ code, reason: String(reason) })),
  );

describe("OpenAIRealtimeWS({ callID }) over WSS", () => {
  it("receives the call's server events and steers it: session.update, conversation.item.create, response.create", async () => {
    const { vc, callId } = await realtimeCall();
    const rt = new OpenAIRealtimeWS({ callID: callId, options: { ca } }, openai);
    closers.push(() => rt.socket.terminate());
    expect(rt.url.toString()).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/v1\/realtime\?call_id=rtc_/);
    const got = recorder();
    rt.on("event", (e) => got.onEvent(e as unknown as Json));
    rt.on("error", got.onError);
    expect((await got.waitFor("session.created")).session).toMatchObject({ object: "realtime.session" });
    expect(got.events[0]!.type).toBe("session.created");

    rt.send({ type: "session.update", session: { type: "realtime", instructions: "Answer in one word." } });
    const updated = await got.waitFor("session.updated");
    const onChannel = (await vc.waitEvent("session.updated")).event;
    expect(updated).toEqual(onChannel);
    expect(onChannel.session).toMatchObject({ instructions: "Answer in one word." });

    rt.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: "call_1", output: '{"ok":true}' },
    });
    rt.send({ type: "response.create" });
    // The demo agent answers; its events reach both the data channel and the sideband, the same ones.
    const done = await got.waitFor("response.done");
    const doneOnChannel = (await vc.waitEvent("response.done")).event;
    expect(done.event_id).toBe(doneOnChannel.event_id);
    expect(got.errors).toEqual([]);

    // calls.hangup: the sideband closes with 1000 after the data channel's last events.
    const closed = closedWith(rt.socket);
    const res = await fetch(`${stack.edge!.url}/v1/realtime/calls/${callId}/hangup`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(res.status).toBe(200);
    expect(await closed).toEqual({ code: 1000, reason: "call ended: ended" });
  });

  it("a malformed client event gets an OpenAI-shaped error on the sideband; the call goes on", async () => {
    const { vc, callId } = await realtimeCall();
    const rt = new OpenAIRealtimeWS({ callID: callId, options: { ca } }, openai);
    closers.push(() => rt.socket.terminate());
    const got = recorder();
    rt.on("event", (e) => got.onEvent(e as unknown as Json));
    rt.on("error", got.onError);
    await got.waitFor("session.created");
    rt.socket.send("{ this is not json");
    await got.until(() => got.errors.length === 1, "the error");
    expect(got.errors[0]!.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
    // A sideband closing never ends the call.
    const closed = closedWith(rt.socket);
    rt.close();
    await closed;
    vc.send({ type: "response.create" });
    await vc.waitEvent("response.done");
    expect(vc.events.some((e) => e.event.type === "error")).toBe(false);
  });

  it("refuses an ek_ key, another edge's or an unknown call id, and an ended call", async () => {
    const { callId } = await realtimeCall();
    const failure = (client: OpenAI, id: string) =>
      new Promise<string>((resolve) => {
        const rt = new OpenAIRealtimeWS({ callID: id, options: { ca } }, client);
        closers.push(() => rt.socket.terminate());
        rt.on("error", (e) => resolve(e.message));
        rt.socket.once("open", () => resolve("opened"));
      });
    const secret = (await (
      await fetch(`${stack.edge!.url}/v1/realtime/client_secrets`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: "{}",
      })
    ).json()) as { value: string };
    const withEk = new OpenAI({
      apiKey: secret.value,
      baseURL: openai.baseURL,
      dangerouslyAllowBrowser: true,
    });
    expect(await failure(withEk, callId)).toMatch(/401/);
    expect(await failure(openai, "rtc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toMatch(
      /404/,
    );
    expect(await failure(openai, "rtc_nope")).toMatch(/404/);
    await fetch(`${stack.edge!.url}/v1/realtime/calls/${callId}/hangup`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(await failure(openai, callId)).toMatch(/404/);
  });
});

describe("the GPT-Live sideband (SidebandWS, /v1/live/sessions/{id}/attach)", () => {
  it("gets session.started, steers with session.update, and sees session.closed before the close", async () => {
    const vc = createVoiceClient();
    clients.push(vc);
    const http = new OpenAI({ apiKey: KEY, baseURL: `${stack.edge!.url}/v1`, maxRetries: 0 });
    const live = await http.live.create({
      session: { model: "gpt-live-1" },
      transport: { type: "webrtc", sdp: await vc.offer() },
    });
    await vc.answer(live.transport.sdp);
    await vc.ready();
    await vc.waitEvent("session.started");
    const sb = new SidebandWS(openai, { session_id: live.session.id }, { ca });
    closers.push(() => sb.close());
    expect(sb.url.toString()).toMatch(/^wss:\/\/.*\/v1\/live\/sessions\/rtc_.*\/attach$/);
    const got = recorder();
    sb.on("event", (e) => got.onEvent(e as unknown as Json));
    sb.on("error", got.onError);
    expect((await got.waitFor("session.started")).session).toMatchObject({ status: "active" });
    sb.send({ type: "session.update", session: { instructions: "Be brief." } } as never);
    const updated = await got.waitFor("session.updated");
    expect(updated).toEqual((await vc.waitEvent("session.updated")).event);
    const closed = new Promise<number>((r) => sb.on("close", (code) => r(code)));
    await http.live.sessions.hangup(live.session.id);
    const end = await got.waitFor("session.closed");
    expect(end).toMatchObject({ reason: "close_requested" });
    expect(await closed).toBe(1000);
    expect(got.events.at(-1)!.type).toBe("session.closed");
  });
});
