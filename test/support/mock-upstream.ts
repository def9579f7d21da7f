/**
 * The server plumbing of the mock upstreams (realtime-mock.ts: the Realtime
 * API, live-mock.ts: GPT-Live): an HTTP server that upgrades to WebSocket (or
 * refuses with a status, on command), one call per connection recording every
 * client event and the input audio its dialect's append event carries, and
 * ways to wait for them. What the server says is the dialect's.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { WebSocketServer } from "ws";

export type Json = Record<string, unknown>;
export const UPSTREAM_RATE = 24000;

export interface UpstreamCall {
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
  /** Resolves with the first received event of this type matching pred. */
  waitFor(type: string, pred?: (e: Json) => boolean, timeoutMs?: number): Promise<Json>;
  closed: Promise<{ code: number; reason: string }>;
}

export interface MockServer<C extends UpstreamCall> {
  url: string;
  port: number;
  /** Calls by arrival; next() resolves with the next one. */
  calls: C[];
  next(timeoutMs?: number): Promise<C>;
  /** Refuse handshakes with this HTTP status (0: accept). */
  refuse: number;
  close(): Promise<void>;
}

export interface Dialect<C extends UpstreamCall> {
  /** The client event whose `audio` is input audio (base64 PCM16 24 kHz). */
  appendType: string;
  /** The backend URL for the transceiver, given the port. */
  url(port: number): string;
  /** The dialect's commands, added to the call (n: 1-based connection number). */
  commands(call: UpstreamCall, n: number): Omit<C, keyof UpstreamCall>;
  /** Says what the server says first, if anything. */
  open(call: C): void;
  /** Answers one received client event (already recorded). */
  answer(call: C, event: Json): void;
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

/** `ms` of a tone at `freq` Hz as base64 chunks of `deltaMs` each, as an upstream's audio deltas carry it. */
export function toneDeltas(ms: number, freq: number, deltaMs: number): string[] {
  const pcm = tone24(ms, freq);
  const chunk = (UPSTREAM_RATE * 2 * deltaMs) / 1000;
  const deltas: string[] = [];
  for (let o = 0; o < pcm.length; o += chunk) deltas.push(pcm.subarray(o, o + chunk).toString("base64"));
  return deltas;
}

export async function startMockUpstream<C extends UpstreamCall>(dialect: Dialect<C>): Promise<MockServer<C>> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Duplex>();
  http.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  const arrivals: ((c: C) => void)[] = [];
  let n = 0;
  const mock: MockServer<C> = {
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
    const waiters = new Set<() => void>();
    /** Resolves with what `cond` finds, checked on every event received. */
    const until = <T>(cond: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
      new Promise((resolve, reject) => {
        const hit = cond();
        if (hit !== undefined) return resolve(hit);
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`upstream got no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          const r = cond();
          if (r === undefined) return;
          clearTimeout(t);
          waiters.delete(check);
          resolve(r);
        };
        waiters.add(check);
      });
    const base: UpstreamCall = {
      ws,
      url: req.url ?? "",
      headers: req.headers,
      received,
      audio: () => Buffer.concat(audio),
      send(e) {
        if (ws.readyState === WebSocket.OPEN) ws.send(typeof e === "string" ? e : JSON.stringify(e));
      },
      stopReading: () => ws.pause(),
      audioBytes: 0,
      waitAudio(bytes, timeoutMs = 5000) {
        return until(() => base.audioBytes >= bytes || undefined, `${bytes} bytes of audio`, timeoutMs).then(
          () => undefined,
        );
      },
      waitFor(type, pred, timeoutMs = 5000) {
        return until(() => received.find((e) => e.type === type && (!pred || pred(e))), type, timeoutMs);
      },
      closed: new Promise((r) => ws.once("close", (code, reason) => r({ code, reason: reason.toString() }))),
    };
    const call = Object.assign(base, dialect.commands(base, ++n)) as C;
    ws.on("message", (data) => {
      const e = JSON.parse(String(data)) as Json;
      received.push(e);
      if (e.type === dialect.appendType) {
        const pcm = Buffer.from(e.audio as string, "base64");
        audio.push(pcm);
        call.audioBytes += pcm.length;
      } else dialect.answer(call, e);
      for (const w of [...waiters]) w();
    });
    dialect.open(call);
    mock.calls.push(call);
    arrivals.shift()?.(call);
  }

  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  mock.port = (http.address() as { port: number }).port;
  mock.url = dialect.url(mock.port);
  return mock;
}
