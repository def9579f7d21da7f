/**
 * A mock OpenAI-Realtime-compatible WebSocket server, written from the
 * published GA protocol (field names as in the `openai` package's types):
 * `session.created` on connect, `session.updated` for `session.update`,
 * `input_audio_buffer.append` collected as PCM16 24 kHz, and on command a
 * response whose audio is sent at once as `response.output_audio.delta`
 * (faster than real time, as real upstreams do), or a barge-in
 * (`input_audio_buffer.speech_started`). Faults on command: refuse the
 * handshake, drop the socket, send junk.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { WebSocketServer } from "ws";
import { silence, tone, type VoiceClient } from "./voice-client.ts";
import { Waiters } from "./waiters.ts";

export type Json = Record<string, unknown>;
export const UPSTREAM_RATE = 24000;

export interface MockCall {
  ws: WebSocket;
  url: string;
  headers: IncomingMessage["headers"];
  /** Every client event received, in order (appends included). */
  received: Json[];
  /** The input audio so far (PCM16 24 kHz). */
  audio(): Buffer;
  /** Bytes of input audio so far. */
  audioBytes: number;
  /** Resolves once this many bytes of input audio have arrived. */
  waitAudio(bytes: number, timeoutMs?: number): Promise<void>;
  send(event: Json | string): void;
  /** Stop reading the socket (a stalled upstream: TCP pushes back). */
  stopReading(): void;
  /** A response with `ms` of a tone at `freq` Hz, its audio sent in chunks as fast as the socket takes it. */
  respond(o: { ms: number; freq: number; deltaMs?: number; beta?: boolean }): {
    responseId: string;
    itemId: string;
  };
  /** Resolves with the first received event of this type matching pred. */
  waitFor(type: string, pred?: (e: Json) => boolean, timeoutMs?: number): Promise<Json>;
  closed: Promise<{ code: number; reason: string }>;
}

export interface RealtimeMock {
  url: string;
  port: number;
  /** Calls by arrival; next() resolves with the next one. */
  calls: MockCall[];
  next(timeoutMs?: number): Promise<MockCall>;
  /** Refuse handshakes with this HTTP status (0: accept). */
  refuse: number;
  close(): Promise<void>;
}

/** PCM16 at 24 kHz: a tone with harmonics. */
export function tone24(ms: number, freq: number, amp = 0.3): Buffer {
  const n = Math.round((UPSTREAM_RATE * ms) / 1000);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const ph = (2 * Math.PI * freq * i) / UPSTREAM_RATE;
    b.writeInt16LE(Math.round(amp * 32767 * (0.8 * Math.sin(ph) + 0.2 * Math.sin(2 * ph))), i * 2);
  }
  return b;
}

/** PCM16 bytes as samples (the upstream's input audio, say). */
export const pcm16 = (b: Buffer): Int16Array => new Int16Array(b.buffer, b.byteOffset, b.length >> 1);

/**
 * The caller says `ms` of a `freq` Hz tone (microphone on, a little silence
 * after) until the upstream has as much audio: resolves with the upstream's
 * input so far, as samples at UPSTREAM_RATE.
 */
export async function sayToUpstream(
  vc: VoiceClient,
  up: MockCall,
  o: { ms: number; freq: number; timeoutMs?: number },
): Promise<Int16Array> {
  vc.startMic();
  await vc.say(tone(o.ms, o.freq));
  await vc.say(silence(100), false);
  await up.waitAudio((UPSTREAM_RATE * 2 * o.ms) / 1000, o.timeoutMs);
  return pcm16(up.audio());
}

export async function startRealtimeMock(): Promise<RealtimeMock> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Duplex>();
  http.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  const arrivals: ((c: MockCall) => void)[] = [];
  let n = 0;
  const mock: RealtimeMock = {
    url: "",
    port: 0,
    calls: [],
    refuse: 0,
    next(timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no upstream connection within ${timeoutMs} ms`)),
          timeoutMs,
        );
        arrivals.push((c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
  http.on("upgrade", (req, socket, head) => {
    if (mock.refuse) {
      socket.end(
        `HTTP/1.1 ${mock.refuse} Refused\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req));
  });

  function accept(ws: WebSocket, req: IncomingMessage): void {
    const received: Json[] = [];
    const audio: Buffer[] = [];
    const waiters = new Waiters();
    const sessionId = `sess_mock${++n}`;
    let session: Json = { id: sessionId, object: "realtime.session", type: "realtime" };
    const send = (e: Json | string) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(typeof e === "string" ? e : JSON.stringify(e));
    };
    let responses = 0;
    /** Resolves with what `cond` finds, checked on every event received. */
    const until = <T>(cond: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
      waiters.until(cond, timeoutMs, () => `upstream got no ${what} within ${timeoutMs} ms`);
    const call: MockCall = {
      ws,
      url: req.url ?? "",
      headers: req.headers,
      received,
      audio: () => Buffer.concat(audio),
      send,
      respond({ ms, freq, deltaMs = 200, beta = false }) {
        const r = ++responses;
        const responseId = `resp_${r}`;
        const itemId = `item_out_${r}`;
        send({
          type: "response.created",
          response: { id: responseId, object: "realtime.response", status: "in_progress" },
        });
        send({
          type: "response.output_item.added",
          response_id: responseId,
          output_index: 0,
          item: { id: itemId, type: "message", role: "assistant", content: [] },
        });
        const pcm = tone24(ms, freq);
        const chunk = (UPSTREAM_RATE * 2 * deltaMs) / 1000;
        for (let o = 0; o < pcm.length; o += chunk)
          send({
            type: beta ? "response.audio.delta" : "response.output_audio.delta",
            response_id: responseId,
            item_id: itemId,
            output_index: 0,
            content_index: 0,
            delta: pcm.subarray(o, o + chunk).toString("base64"),
          });
        send({
          type: "response.output_audio.done",
          response_id: responseId,
          item_id: itemId,
          output_index: 0,
          content_index: 0,
        });
        send({
          type: "response.done",
          response: { id: responseId, object: "realtime.response", status: "completed" },
        });
        return { responseId, itemId };
      },
      stopReading: () => ws.pause(),
      audioBytes: 0,
      waitAudio(bytes, timeoutMs = 5000) {
        return until(() => call.audioBytes >= bytes || undefined, `${bytes} bytes of audio`, timeoutMs).then(
          () => undefined,
        );
      },
      waitFor(type, pred, timeoutMs = 5000) {
        return until(() => received.find((e) => e.type === type && (!pred || pred(e))), type, timeoutMs);
      },
      closed: new Promise((r) => ws.once("close", (code, reason) => r({ code, reason: reason.toString() }))),
    };
    ws.on("message", (data) => {
      const e = JSON.parse(String(data)) as Json;
      received.push(e);
      if (e.type === "input_audio_buffer.append") {
        const pcm = Buffer.from(e.audio as string, "base64");
        audio.push(pcm);
        call.audioBytes += pcm.length;
      } else if (e.type === "session.update") {
        session = { ...session, ...(e.session as Json) };
        send({ type: "session.updated", session });
      } else if (e.type === "conversation.item.truncate")
        send({
          type: "conversation.item.truncated",
          item_id: e.item_id,
          content_index: e.content_index,
          audio_end_ms: e.audio_end_ms,
        });
      waiters.wake();
    });
    send({ type: "session.created", session });
    mock.calls.push(call);
    arrivals.shift()?.(call);
  }

  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  mock.port = (http.address() as { port: number }).port;
  mock.url = `realtime+ws://127.0.0.1:${mock.port}/v1/realtime?model=mock-realtime`;
  return mock;
}
