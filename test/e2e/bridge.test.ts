/**
 * The backend bridge end to end: werift voice clients -> relay -> transceiver
 * (bridge mode) -> demo backend (server VAD, parrot, barge-in), with real
 * Opus audio; the oai-events handshake; and faults (a backend killed
 * mid-call, a slow one, one that is not there, malformed events).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBackend, startBackendServer } from "../../media/backend/server.ts";
import {
  freePort,
  postSession,
  type RelayedTransceiver,
  startRelayedTransceiver,
  txFetch,
} from "../support/stack.ts";
import {
  expectTone,
  type Heard,
  type Json,
  silence,
  tone,
  type VoiceClient,
  voiceClients,
} from "../support/voice-client.ts";

const CLUSTER = 4;
let relayed: RelayedTransceiver;
let backend: RunningBackend;
let mortal: ChildProcess;
let slow: Server;
const slowSockets: Duplex[] = [];
const clients = voiceClients();

async function spawnBackend(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["bin/voice-edge.js", "backend", "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, VOICE_EDGE_LOG_LEVEL: "info" },
  });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes('"backend ready"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`backend exited (${code}):\n${out}`)));
  });
  return child;
}

async function createSession(session?: Json): Promise<{ status: number; body: Json; vc?: VoiceClient }> {
  const vc = clients.create();
  const res = await postSession(relayed.tx.url, { sdp: await vc.offer(), session });
  const body = (await res.json()) as Json;
  if (res.status !== 201) return { status: res.status, body };
  await vc.answer(body.sdp as string);
  await vc.ready();
  return { status: res.status, body, vc };
}

async function call(session?: Json): Promise<VoiceClient> {
  const r = await createSession(session);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.vc!;
}

const type = (e: Json) => e.type as string;
/** Packets heard between two arrival times (exclusive end). */
const between = (heard: Heard[], from: number, to = Number.POSITIVE_INFINITY) =>
  heard.filter((h) => h.at >= from && h.at < to);

beforeAll(async () => {
  backend = await startBackendServer({ host: "127.0.0.1", port: 0 });
  const mortalPort = await freePort();
  mortal = await spawnBackend(mortalPort);
  // A backend that takes its time: it never finishes the WebSocket handshake.
  slow = createServer();
  slow.on("upgrade", (_req, socket) => {
    slowSockets.push(socket);
    socket.on("end", () => socket.destroy());
  });
  await new Promise<void>((r) => slow.listen(0, "127.0.0.1", () => r()));
  const slowPort = (slow.address() as { port: number }).port;
  const gonePort = await freePort();
  relayed = await startRelayedTransceiver(CLUSTER, {
    workers: 1,
    extraArgs: [
      "--backends",
      [
        `default=${backend.url}`,
        `mortal=ws://127.0.0.1:${mortalPort}/v1/agent`,
        `slow=ws://127.0.0.1:${slowPort}/v1/agent`,
        `gone=ws://127.0.0.1:${gonePort}/v1/agent`,
      ].join(","),
      "--backend-connect-timeout",
      "1",
    ],
  });
});

afterAll(async () => {
  await clients.close();
  await relayed?.close();
  mortal?.kill("SIGKILL");
  for (const s of slowSockets) s.destroy();
  await new Promise((r) => slow?.close(r));
  await backend?.close();
});

describe("bridge: oai-events handshake", () => {
  it("sends session.created on open and answers session.update with the merged session.updated", async () => {
    const vc = await call({ model: "default", instructions: "be a parrot" });
    const created = await vc.waitEvent("session.created");
    const s0 = created.event.session as Json;
    expect(s0.object).toBe("realtime.session");
    expect(s0.instructions).toBe("be a parrot");
    expect(typeof created.event.event_id).toBe("string");
    vc.send({
      type: "session.update",
      event_id: "client_1",
      session: {
        type: "realtime",
        audio: {
          input: {
            format: { type: "audio/pcmu" },
            turn_detection: { type: "server_vad", silence_duration_ms: 300 },
          },
          output: { format: { type: "audio/pcm", rate: 24000 }, voice: "marin" },
        },
      },
    });
    const updated = (await vc.waitEvent("session.updated")).event.session as Json;
    expect(updated.instructions).toBe("be a parrot"); // merged, not replaced
    expect(updated.audio).toMatchObject({
      input: { format: { type: "audio/pcmu" }, turn_detection: { silence_duration_ms: 300 } },
      output: { voice: "marin" },
    });
    // A format the Realtime API does not have is refused, and the session stays as it was.
    const from = vc.events.length;
    vc.send({
      type: "session.update",
      event_id: "client_2",
      session: { audio: { output: { format: { type: "audio/opus" } } } },
    });
    const err = (await vc.waitEvent("error", { from })).event.error as Json;
    expect(err).toMatchObject({
      code: "invalid_value",
      param: "session.audio.output.format",
      event_id: "client_2",
    });
  });
});

describe("bridge: the demo agent", () => {
  it("detects the user's turn with sensible timestamps and plays the utterance back, paced", async () => {
    const vc = await call();
    vc.send({
      type: "session.update",
      session: { audio: { input: { turn_detection: { type: "server_vad", silence_duration_ms: 300 } } } },
    });
    await vc.waitEvent("session.updated");
    vc.startMic();
    await vc.say(silence(400), false);
    // Two "syllables" with a pause shorter than silence_duration_ms: one turn, not two.
    await vc.say([...tone(200, 440), ...silence(120), ...tone(280, 440)]);
    const started = (await vc.waitEvent("input_audio_buffer.speech_started")).event;
    const stopped = (await vc.waitEvent("input_audio_buffer.speech_stopped")).event;
    expect(vc.events.filter((r) => type(r.event) === "input_audio_buffer.speech_started")).toHaveLength(1);
    // Speech began 400 ms into the stream: start = onset - 300 ms prefix padding; end = 1000 + 300 ms silence.
    expect(started.audio_start_ms as number).toBeGreaterThanOrEqual(60);
    expect(started.audio_start_ms as number).toBeLessThanOrEqual(160);
    expect(stopped.audio_end_ms as number).toBeGreaterThanOrEqual(1260);
    expect(stopped.audio_end_ms as number).toBeLessThanOrEqual(1380);
    const resp = (await vc.waitEvent("response.created")).event.response as Json;
    const on = await vc.waitEvent("output_audio_buffer.started");
    expect(on.event.response_id).toBe(resp.id);
    const off = await vc.waitEvent("output_audio_buffer.stopped", { timeoutMs: 4000 });
    expect(off.event.response_id).toBe(resp.id);
    const audio = between(vc.heard, on.at - 200, off.at + 1);
    // ~300 ms prefix + 600 ms speech, in 20 ms frames; contiguous RTP, marker on the first only.
    expect(audio.length).toBeGreaterThanOrEqual(40);
    expect(audio.length).toBeLessThanOrEqual(52);
    expect(audio[0]!.marker).toBe(true);
    for (let i = 1; i < audio.length; i++) {
      expect((audio[i]!.seq - audio[i - 1]!.seq) & 0xffff).toBe(1);
      expect((audio[i]!.ts - audio[i - 1]!.ts) >>> 0).toBe(960);
      expect(audio[i]!.marker).toBe(false);
    }
    // Paced, not a burst: the frames arrive over (nearly) their own duration.
    expect(audio.at(-1)!.at - audio[0]!.at).toBeGreaterThan((audio.length - 1) * 20 * 0.75);
    // It is the user's 440 Hz voice (and not, say, silence or noise).
    const pcm = vc.decode(audio);
    expectTone(pcm, 440, 1000);
    expect(vc.events.map((r) => type(r.event))).toContain("response.done");
  });
});

describe("bridge: barge-in", () => {
  it("stops the agent at once when the user talks over it, clears the buffer and says how much played", async () => {
    const vc = await call({
      audio: { input: { turn_detection: { type: "server_vad", silence_duration_ms: 300 } } },
    });
    vc.startMic();
    await vc.say(silence(100), false);
    await vc.say(tone(1500, 440));
    const resp = (await vc.waitEvent("response.created")).event.response as Json;
    const on = await vc.waitEvent("output_audio_buffer.started");
    // Let the agent talk for a while (~300 ms heard), then talk over it.
    await vc.until(() => between(vc.heard, on.at - 200).length >= 15, "15 frames of the answer");
    const from = vc.events.length;
    const bargeFrame = vc.sent.length;
    void vc.say(tone(400, 880));
    const cleared = await vc.waitEvent("output_audio_buffer.cleared", { from });
    expect(cleared.event.response_id).toBe(resp.id);
    const truncated = (await vc.waitEvent("conversation.item.truncated", { from })).event;
    // How much was heard: more than the 300 ms we waited for, far less than the 1.8 s answer.
    expect(truncated.audio_end_ms as number).toBeGreaterThanOrEqual(300);
    expect(truncated.audio_end_ms as number).toBeLessThan(1000);
    expect(vc.events.slice(from).map((r) => type(r.event))).toContain("input_audio_buffer.speech_started");
    // The next turn (the 880 Hz interruption) is answered: a new spurt with the marker bit.
    const next = await vc.waitEvent("output_audio_buffer.started", { from });
    expect(next.event.response_id).not.toBe(resp.id);
    const firstAnswer = between(vc.heard, on.at - 200, next.at - 100);
    const bargeAt = vc.sent[bargeFrame]!.at;
    const last = firstAnswer.at(-1)!;
    // Barge-in latency: the user's first interrupting frame to the agent's last frame.
    expect(last.at - bargeAt).toBeLessThan(400);
    // Only frames in flight arrive after the cleared event.
    expect(between(firstAnswer, cleared.at).length).toBeLessThanOrEqual(5);
    expect(firstAnswer.length).toBeLessThan(60); // the whole answer would be ~90 frames
    const reply = between(vc.heard, next.at - 200);
    await vc.waitEvent("output_audio_buffer.stopped", {
      from: vc.events.indexOf(next),
      pred: (e) => e.response_id === next.event.response_id,
    });
    expect(reply[0]!.marker).toBe(true);
    const pcm = vc.decode(between(vc.heard, next.at - 200));
    expectTone(pcm, 880, 440);
  });
});

describe("bridge: faults", () => {
  it("answers malformed client events with error events and keeps going", async () => {
    const vc = await call();
    await vc.waitEvent("session.created");
    const from = vc.events.length;
    vc.send("this is not json");
    vc.send("[1,2,3]");
    vc.send(JSON.stringify({ type: 42 }));
    vc.send(JSON.stringify({ type: "no.such.event", event_id: "evt_x" }));
    vc.send(JSON.stringify({ type: "session.update", event_id: "evt_y" }));
    await vc.waitEvent("error", { from, pred: (e) => (e.error as Json).event_id === "evt_y" });
    const codes = vc.events
      .slice(from)
      .filter((r) => type(r.event) === "error")
      .map((r) => (r.event.error as Json).code);
    expect(codes).toEqual([
      "invalid_json",
      "invalid_event",
      "missing_type",
      "unknown_event_type",
      "invalid_value",
    ]);
    vc.send({ type: "session.update", session: { instructions: "still here" } });
    const s = (await vc.waitEvent("session.updated", { from })).event.session as Json;
    expect(s.instructions).toBe("still here");
  });

  it("refuses a session whose model has no backend (400) or whose backend is down (503)", async () => {
    const none = await createSession({ model: "no-such-model" });
    expect(none.status).toBe(400);
    expect(none.body.error).toMatchObject({ code: "model_not_supported" });
    expect((none.body.error as Json).message).toContain("no-such-model");
    const down = await createSession({ model: "gone" });
    expect(down.status).toBe(503);
    expect(down.body.error).toMatchObject({ code: "backend_unavailable", type: "server_error" });
  });

  it("a slow backend fails only its own session; another session talks meanwhile", async () => {
    const t0 = performance.now();
    const slowSession = createSession({ model: "slow" });
    const vc = await call({
      audio: { input: { turn_detection: { type: "server_vad", silence_duration_ms: 200 } } },
    });
    vc.startMic();
    await vc.say(tone(300, 440));
    await vc.waitEvent("output_audio_buffer.started");
    const s = await slowSession;
    expect(s.status).toBe(503);
    expect((s.body.error as Json).message).toContain("within 1000 ms");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it("a backend killed mid-call gives the client an error event and a clean end", async () => {
    const vc = await call({ model: "mortal" });
    await vc.waitEvent("session.created");
    vc.startMic();
    const id = (await (await txFetch(`${relayed.tx.url}/v1/sessions`)).json()) as {
      sessions: { id: string; bridge?: { model: string } }[];
    };
    const mine = id.sessions.filter((s) => s.bridge?.model === "mortal");
    expect(mine).toHaveLength(1);
    mortal.kill("SIGKILL");
    const err = (await vc.waitEvent("error")).event.error as Json;
    expect(err).toMatchObject({ type: "server_error", code: "backend_disconnected" });
    // The transceiver ends the session: the peer connection closes and the session is gone.
    await new Promise<void>((resolve) => {
      if (vc.client.channel.readyState === "closed") return resolve();
      vc.client.channel.stateChanged.subscribe((st) => st === "closed" && resolve());
    });
    // ... and the session is gone from the transceiver right after (its next 20 ms tick).
    const deadline = performance.now() + 2000;
    let status = 200;
    while (status !== 404 && performance.now() < deadline)
      status = (await txFetch(`${relayed.tx.url}/v1/sessions/${mine[0]!.id}`)).status;
    expect(status).toBe(404);
    const metrics = await (await fetch(`${relayed.tx.url}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`${name} (\\d+)`).exec(metrics)?.[1]);
    expect(metric('sessions_closed_total\\{worker="0",reason="backend"\\}')).toBe(1);
    expect(metric('bridge_backend_failures_total\\{worker="0",reason="backend_disconnected"\\}')).toBe(1);
    // Earlier tests in this file played audio and barged in.
    expect(metric('bridge_audio_frames_total\\{worker="0",direction="to_client"\\}')).toBeGreaterThan(40);
    expect(metric('bridge_output_clears_total\\{worker="0"\\}')).toBeGreaterThanOrEqual(1);
  });
});
