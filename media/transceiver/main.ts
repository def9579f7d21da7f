/**
 * `voice-edge transceiver`: the session API process and its workers.
 * Exported startTransceiver() runs the same thing in-process for tests and
 * for `voice-edge stack`.
 */

import type { Server } from "node:http";
import { availableParallelism } from "node:os";
import type { Duplex } from "node:stream";
import { serve } from "@hono/node-server";
import { z } from "zod";
import { parseKeyring } from "../../shared/hint.ts";
import { formatEndpoint, isUnspecifiedIp, parseEndpoint } from "../../shared/ip.ts";
import { DEV_SESSION_API_TOKEN } from "../../shared/session-api.ts";
import { AddressSet } from "../relay/config.ts";
import { waitDrained } from "../runtime/drain.ts";
import { createLogger, type Logger } from "../runtime/log.ts";
import { parseOptions } from "../runtime/options.ts";
import { IO_BACKENDS, type IoChoice, resolveIo } from "../udp-batch/io-choice.ts";
import { parseEncapKeys } from "../wire/encap-auth.ts";
import { createApi } from "./api/app.ts";
import { serveSidebands } from "./api/sideband.ts";
import { type BridgeConfig, parseBackends } from "./bridge/backends.ts";
import { DEFAULT_COMPLEXITY } from "./bridge/opus.ts";
import { ForkedWorker } from "./forked-worker.ts";
import { transceiverMetrics } from "./metrics.ts";
import { TransceiverPool } from "./pool.ts";
import { SessionHost, type WorkerOptions } from "./session-host.ts";
import { SessionIds } from "./session-id.ts";
import { SidebandSockets } from "./sideband-sockets.ts";
import { InProcessWorker, type WorkerHandle } from "./worker-handle.ts";

const endpoint = (what: string) =>
  z.string().transform((s, ctx) => {
    const e = parseEndpoint(s);
    if (!e) ctx.addIssue({ code: "custom", message: `${what} must be ip:port (IP literal), got "${s}"` });
    return e!;
  });

export const transceiverSpecs = {
  cluster: {
    env: "VOICE_EDGE_CLUSTER",
    schema: z.coerce.number().int().min(0).max(65535),
    description: "cluster id this transceiver belongs to (goes into every hint)",
  },
  keys: {
    env: "VOICE_EDGE_HINT_KEYS",
    schema: z.string().min(1, "required"),
    description: "hint keys, id:secret[,id:secret]; shared with the relays",
  },
  "encap-keys": {
    env: "VOICE_EDGE_ENCAP_KEYS",
    schema: z.string().min(1, "required"),
    description:
      "encapsulation keys, id:secret[,id:secret]; shared with the relays (authenticate the datagrams between them)",
  },
  listen: {
    env: "VOICE_EDGE_TRANSCEIVER_LISTEN",
    schema: endpoint("--listen").prefault("127.0.0.1:8801"),
    description: "session API (HTTP) address",
  },
  workers: {
    env: "VOICE_EDGE_TRANSCEIVER_WORKERS",
    schema: z.coerce.number().int().min(0).max(256).default(availableParallelism()),
    description: "worker processes, each with its own UDP socket (0: one worker inside this process)",
  },
  "udp-host": {
    env: "VOICE_EDGE_TRANSCEIVER_UDP_HOST",
    schema: z.string().default("0.0.0.0"),
    description: "address the workers' UDP sockets bind",
  },
  "udp-port": {
    env: "VOICE_EDGE_TRANSCEIVER_UDP_PORT",
    schema: z.coerce.number().int().min(0).max(65535).default(0),
    description: "first worker's UDP port; worker i binds port+i (0: ephemeral)",
  },
  "advertise-host": {
    env: "VOICE_EDGE_TRANSCEIVER_ADVERTISE_HOST",
    schema: z.string().default("127.0.0.1"),
    description: "address relays reach the workers at (the pod IP in Kubernetes); goes into hints",
  },
  ingress: {
    env: "VOICE_EDGE_INGRESS",
    schema: endpoint("--ingress").prefault("127.0.0.1:3478"),
    description: "relay address the SDP answers advertise unless the caller names one",
  },
  "ingress-tcp": {
    env: "VOICE_EDGE_INGRESS_TCP",
    schema: endpoint("--ingress-tcp").optional(),
    description:
      "the default ingress's ICE-TCP listener: answers without a caller-named ingress also advertise it (tcptype passive)",
  },
  capacity: {
    env: "VOICE_EDGE_TRANSCEIVER_CAPACITY",
    schema: z.coerce.number().int().min(1).default(200),
    description: "sessions per worker before the API answers 503",
  },
  "silence-timeout": {
    env: "VOICE_EDGE_SILENCE_TIMEOUT",
    schema: z.coerce.number().positive().default(30),
    description: "seconds without a packet from the client before a session is closed",
  },
  io: {
    env: "VOICE_EDGE_TRANSCEIVER_IO",
    schema: z.enum(IO_BACKENDS, { error: 'expected "dgram", "batch" or "auto"' }).default("auto"),
    description:
      "UDP I/O of the media socket: batch (recvmmsg/sendmmsg, native addon, Linux), dgram (node:dgram), auto (batch when the addon loads)",
  },
  "connect-timeout": {
    env: "VOICE_EDGE_CONNECT_TIMEOUT",
    schema: z.coerce.number().positive().default(15),
    description: "seconds a new session may take to connect (ICE and DTLS) before it is closed",
  },
  peers: {
    env: "VOICE_EDGE_TRANSCEIVER_PEERS",
    schema: z
      .string()
      .optional()
      .transform((s, ctx) => {
        if (s === undefined || s.trim() === "") return undefined;
        try {
          return AddressSet.parse(s);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
          return undefined;
        }
      }),
    description:
      "session API addresses of the other hosts of this cluster (ip, ip:port or CIDR, e.g. the pod CIDR); requests for a session of any other host are 404 (unset: any host a signed session id names)",
  },
  token: {
    env: "VOICE_EDGE_TRANSCEIVER_TOKEN",
    schema: z.string().optional(),
    description:
      "bearer token the session API requires on every route but /healthz and /metrics (the edge's TRANSCEIVER_TOKEN); without one, a built-in dev token, accepted only when --listen is loopback",
  },
  backends: {
    env: "VOICE_EDGE_BACKENDS",
    schema: z
      .string()
      .default("")
      .transform((s, ctx) => {
        try {
          return parseBackends(s);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
          return {};
        }
      }),
    description:
      "AI backends by model, model=URL[,...] or one URL for every model ('default': sessions naming no model; '*': any other); ws:// or wss://: our protocol (docs/backend-protocol.md), realtime+ws:// or realtime+wss://: an OpenAI-Realtime-compatible server, live+ws:// or live+wss://: a GPT-Live server, their key from OPENAI_API_KEY or the URL's key_env=VAR (docs/bridge.md); none: echo mode",
  },
  "backend-reconnect": {
    env: "VOICE_EDGE_BACKEND_RECONNECT",
    schema: z.coerce.number().int().min(0).max(10).default(0),
    description: "reconnect attempts when a backend drops a live session (0: send an error event and end it)",
  },
  "backend-connect-timeout": {
    env: "VOICE_EDGE_BACKEND_CONNECT_TIMEOUT",
    schema: z.coerce.number().positive().default(3),
    description: "seconds session creation waits for the backend's WebSocket (then 503 backend_unavailable)",
  },
  "backend-stall-timeout": {
    env: "VOICE_EDGE_BACKEND_STALL_TIMEOUT",
    schema: z.coerce.number().positive().default(10),
    description: "seconds a backend may go without reading its audio before it counts as failed",
  },
  "opus-complexity": {
    env: "VOICE_EDGE_OPUS_COMPLEXITY",
    schema: z.coerce.number().int().min(0).max(10).default(DEFAULT_COMPLEXITY),
    description:
      "Opus encoder complexity (0-10) of bridged audio to clients: lower costs less CPU per session (docs/bridge.md, Encoder settings)",
  },
  "backend-token": {
    env: "VOICE_EDGE_BACKEND_TOKEN",
    schema: z.string().optional(),
    description: "bearer token sent to backends (Authorization header)",
  },
  "drain-timeout": {
    env: "VOICE_EDGE_DRAIN_TIMEOUT",
    schema: z.coerce.number().nonnegative().default(3600),
    description: "seconds to wait for sessions to end after SIGTERM",
  },
};

/** What the host hands every worker as it is (documented there). */
type ForEveryWorker = Pick<
  WorkerOptions,
  "cluster" | "ingress" | "ingressTcp" | "capacity" | "silenceTimeoutMs" | "connectTimeoutMs"
>;

export interface TransceiverConfig extends ForEveryWorker {
  keys: string;
  /** Encapsulation keys (id:secret[,id:secret]), the relays' own. */
  encapKeys: string;
  listen: { address: string; port: number };
  workers: number;
  udpHost: string;
  udpPort: number;
  /** UDP I/O of the workers' media sockets; default auto. */
  io?: IoChoice;
  advertiseHost: string;
  token?: string;
  /** The other hosts of the cluster this one may forward to; unset: any a signed session id names. */
  peers?: AddressSet;
  /** Backends (bridge mode); absent or empty: echo mode. */
  bridge?: BridgeConfig;
}

export interface RunningTransceiver {
  pool: TransceiverPool;
  url: string;
  close(): Promise<void>;
}

export async function startTransceiver(
  cfg: TransceiverConfig,
  log: Logger = createLogger("transceiver"),
): Promise<RunningTransceiver> {
  const keys = parseKeyring(cfg.keys);
  const encapKeys = parseEncapKeys(cfg.encapKeys); // a bad key fails here, once, not in every worker
  const { backend: io, note: ioNote } = resolveIo(cfg.io ?? "auto"); // --io batch without the addon fails here, once
  if (ioNote)
    log.warn({ io, reason: ioNote }, "media socket on node:dgram (the batched UDP I/O addon is unavailable)");
  const count = Math.max(1, cfg.workers);
  const inits = Array.from({ length: count }, (_, index) => ({
    index,
    cluster: cfg.cluster,
    keys: cfg.keys,
    encapKeys: cfg.encapKeys,
    bindHost: cfg.udpHost,
    bindPort: cfg.udpPort === 0 ? 0 : cfg.udpPort + index,
    io,
    advertiseHost: cfg.advertiseHost,
    ingress: cfg.ingress,
    ingressTcp: cfg.ingressTcp,
    capacity: cfg.capacity,
    silenceTimeoutMs: cfg.silenceTimeoutMs,
    connectTimeoutMs: cfg.connectTimeoutMs,
    bridge: cfg.bridge && Object.keys(cfg.bridge.backends).length > 0 ? cfg.bridge : undefined,
  }));
  const handles: WorkerHandle[] =
    cfg.workers === 0
      ? [
          new InProcessWorker(
            new SessionHost({ ...inits[0]!, keys, encapKeys, log: log.child({ worker: 0 }) }),
          ),
        ]
      : await Promise.all(inits.map((i) => ForkedWorker.start(i)));
  for (const h of handles) if (h instanceof InProcessWorker) await h.worker.start();
  const pool = new TransceiverPool(cfg.cluster, handles, new SessionIds(keys), cfg.peers);
  const sidebands = new SidebandSockets();
  for (const h of handles) {
    h.sidebands = sidebands;
    h.onExit = (code) => {
      log.error(
        { worker: h.index, code, sessions: h.load().sessions },
        "transceiver worker died: its sessions are lost (closed as worker_exit); restarting it",
      );
      sidebands.workerGone(h.index);
    };
    h.onRespawn = () => log.warn({ worker: h.index, restarts: h.restarts }, "transceiver worker restarted");
  }
  const registry = transceiverMetrics(pool, sidebands);
  const token = apiToken(cfg, log);
  const app = createApi(pool, {
    token,
    extend: (a) =>
      a.get("/metrics", async (c) =>
        c.text(await registry.metrics(), 200, { "content-type": registry.contentType }),
      ),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: cfg.listen.address, port: cfg.listen.port }, () =>
      resolve(s),
    );
    s.once("error", reject);
  });
  server.on("clientError", answerUnparsable);
  serveSidebands(server as Server, { pool, token, sockets: sidebands, log });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : cfg.listen.port;
  const url = `http://${formatEndpoint({ address: cfg.listen.address, port })}`;
  // Other hosts of the cluster reach this API at the advertised address (the pod IP).
  pool.setHost({
    address: isUnspecifiedIp(cfg.listen.address) ? cfg.advertiseHost : cfg.listen.address,
    port,
  });
  log.info(
    {
      url,
      cluster: cfg.cluster,
      workers: pool.health().workers.map((w) => w.endpoint),
      ingress: formatEndpoint(cfg.ingress),
      ...(cfg.ingressTcp ? { ingressTcp: formatEndpoint(cfg.ingressTcp) } : {}),
      backends: inits[0]!.bridge ? inits[0]!.bridge.backends : "none (echo mode)",
    },
    "transceiver ready",
  );
  return {
    pool,
    url,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await pool.close();
    },
  };
}

/**
 * Requests Node's HTTP parser refuses (an unknown method, a malformed request line or header) never
 * reach the API: answer them in the API's error shape too, instead of Node's bare 400.
 */
function answerUnparsable(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) return;
  const body = JSON.stringify({
    error: {
      message: "the request could not be parsed as HTTP",
      type: "invalid_request_error",
      param: null,
      code: "bad_request",
    },
  });
  const status =
    err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** The configured token, or on loopback the well-known dev one `npm start` and the dev edge use. */
function apiToken(cfg: TransceiverConfig, log: Logger): string {
  if (cfg.token) return cfg.token;
  if (!isLoopbackIp(cfg.listen.address))
    throw new Error(
      `the session API listens on ${cfg.listen.address}: set --token (VOICE_EDGE_TRANSCEIVER_TOKEN), the edge's TRANSCEIVER_TOKEN`,
    );
  log.warn("no --token: the session API takes the built-in dev token (loopback only)");
  return DEV_SESSION_API_TOKEN;
}

function isLoopbackIp(address: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(address) || address === "::1";
}

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions(
    "transceiver",
    "WebRTC session owner: werift sessions behind one UDP socket per worker process.",
    transceiverSpecs,
    argv,
  );
  if (!o) return;
  const log = createLogger("transceiver", { cluster: o.cluster });
  const t = await startTransceiver(
    {
      cluster: o.cluster,
      keys: o.keys,
      encapKeys: o["encap-keys"],
      listen: o.listen,
      workers: o.workers,
      udpHost: o["udp-host"],
      udpPort: o["udp-port"],
      io: o.io,
      advertiseHost: o["advertise-host"],
      ingress: o.ingress,
      ingressTcp: o["ingress-tcp"],
      capacity: o.capacity,
      silenceTimeoutMs: o["silence-timeout"] * 1000,
      connectTimeoutMs: o["connect-timeout"] * 1000,
      token: o.token,
      peers: o.peers,
      bridge: {
        backends: o.backends,
        reconnect: o["backend-reconnect"],
        connectTimeoutMs: o["backend-connect-timeout"] * 1000,
        stallTimeoutMs: o["backend-stall-timeout"] * 1000,
        opusComplexity: o["opus-complexity"],
        token: o["backend-token"],
      },
    },
    log,
  );
  let stopping = false;
  const drain = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: stopping now");
      process.exit(1);
    }
    stopping = true;
    // Stop taking sessions (health says draining, so the edge goes elsewhere), then wait for the last one.
    t.pool.draining = true;
    log.info({ signal, sessions: t.pool.health().sessions }, "draining");
    // SIGTERM waits for the last session (up to --drain-timeout); SIGINT stops now.
    const timeoutMs = signal === "SIGTERM" ? o["drain-timeout"] * 1000 : 0;
    await waitDrained(() => t.pool.health().sessions, { timeoutMs, pollMs: 500 });
    await t.close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void drain("SIGTERM"));
  process.on("SIGINT", () => void drain("SIGINT"));
}
