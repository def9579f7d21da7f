/**
 * Transceiver benchmark: CPU and memory per echo session at 50 packets/s each
 * way, sessions per core, and time from offer to connected.
 *
 *   node bench/transceiver.ts [--sessions 100] [--seconds 10] [--connects 40]
 *
 * The transceiver runs as `voice-edge transceiver --workers 1` (its worker is
 * a separate process, measured from /proc); the relay and the werift clients
 * run in this process. Clients send one 60-byte audio frame every 20 ms.
 *
 * Memory per session is the worker's growth from its state with no sessions
 * (after a full GC) to N sessions, over N: its RSS as it stands (what the
 * process holds, including garbage not collected yet and young-generation
 * space V8 sized for the allocation rate of the moment), then RSS and V8
 * heap used after a full GC (what the sessions retain). The GC is forced
 * through the worker's inspector (lib/inspect.ts).
 */
import { parseArgs } from "node:util";
import { RtpHeader, RtpPacket } from "werift";
import type { Health } from "../media/transceiver/pool.ts";
import type { SessionInfo } from "../media/transceiver/session.ts";
import { startRelayedTransceiver, txFetch } from "../test/support/stack.ts";
import type { TestClient } from "../test/support/werift-client.ts";
import { INSPECT_ENV, inspectWorker } from "./lib/inspect.ts";
import { openSession } from "./lib/open-session.ts";
import { cpuSeconds, pinRunning } from "./lib/proc.ts";
import { percentile, report, rssBytes } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "100" },
    seconds: { type: "string", default: "10" },
    /** Also print where the worker's CPU goes while the sessions stream (V8 sampling profiler). */
    profile: { type: "boolean", default: false },
    connects: { type: "string", default: "40" },
  },
});
const SESSIONS = Number(values.sessions);
const SECONDS = Number(values.seconds);
const CONNECTS = Number(values.connects);

const relayed = await startRelayedTransceiver(1, {
  workers: 1,
  capacity: SESSIONS + CONNECTS + 10,
  env: INSPECT_ENV,
});
const { relay, tx } = relayed;
const health = async () => (await (await fetch(`${tx.url}/healthz`)).json()) as Health;
const workerPid = (await health()).workers[0]!.pid;
// The worker on a core of its own, the load (this process, the host process) on the other.
const pinned = pinRunning(process.pid, 0) && pinRunning(tx.child.pid!, 0) && pinRunning(workerPid, 1);
const inspector = await inspectWorker(workerPid, tx.child.stderr!);
/** RSS from /proc, heap from V8; after a full GC if `gc`. */
async function memory(gc: boolean): Promise<{ rss: number; heap: number }> {
  if (gc) await inspector.gc();
  const m = await inspector.memory();
  return { rss: rssBytes(workerPid), heap: m.heapUsed + m.external };
}

const connect = () => openSession(tx.url, { fastSrtp: true });

// 1. Offer to connected, one call at a time (after a warm-up call: the first session pays for the certificate).
const warm = await connect();
await warm.client.close();
const connectMs: number[] = [];
const serverMs: number[] = [];
for (let i = 0; i < CONNECTS; i++) {
  const c = await connect();
  connectMs.push(c.ms);
  const info = (await (await txFetch(`${tx.url}/v1/sessions/${c.id}`)).json()) as SessionInfo;
  if (info.connectedAt) serverMs.push(info.connectedAt - info.createdAt);
  await c.client.close();
  await txFetch(`${tx.url}/v1/sessions/${c.id}`, { method: "DELETE" });
}
connectMs.sort((a, b) => a - b);
serverMs.sort((a, b) => a - b);

// 2. Steady state: SESSIONS echo sessions, 50 packets/s each way.
const mem0 = await memory(true);
const clients: TestClient[] = [];
for (let i = 0; i < SESSIONS; i += 10) {
  const batch = await Promise.all(Array.from({ length: Math.min(10, SESSIONS - i) }, () => connect()));
  clients.push(...batch.map((b) => b.client));
}
const memSessions = await memory(false);
const memSessionsGc = await memory(true);
let seq = 0;
const payload = Buffer.alloc(60, 7);
const tick = setInterval(() => {
  seq = (seq + 1) & 0xffff;
  for (const c of clients)
    c.audioOut.writeRtp(
      new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960 }), payload),
    );
}, 20);
await new Promise((r) => setTimeout(r, 2000)); // settle
const recv0 = clients.reduce((n, c) => n + c.received.length, 0);
const cpu0 = cpuSeconds(workerPid);
const t0 = performance.now();
const profiled = values.profile ? await inspector.profile(SECONDS * 1000) : undefined;
if (!profiled) await new Promise((r) => setTimeout(r, SECONDS * 1000));
const cpu1 = cpuSeconds(workerPid);
const wall = (performance.now() - t0) / 1000;
const recv1 = clients.reduce((n, c) => n + c.received.length, 0);
clearInterval(tick);
if (process.env.BENCH_DEBUG) {
  const list = ((await (await txFetch(`${tx.url}/v1/sessions`)).json()) as { sessions: SessionInfo[] })
    .sessions;
  const sum = (f: (s: SessionInfo) => number) => list.reduce((n, s) => n + f(s), 0);
  console.log({
    sent: seq * clients.length,
    rtpIn: sum((s) => s.echo.rtpIn),
    rtpOut: sum((s) => s.echo.rtpOut),
    packetsIn: sum((s) => s.packetsIn),
    packetsOut: sum((s) => s.packetsOut),
    relay: relay.stats,
  });
}
if (profiled) {
  const total = profiled.reduce((n, f) => n + f.selfMs, 0);
  console.log("\nworker CPU while streaming, by function (self time):");
  for (const f of profiled.slice(0, 30))
    console.log(`${((100 * f.selfMs) / total).toFixed(1).padStart(5)} %  ${f.name}  ${f.at}`);
}
const memLoaded = await memory(false);
const memLoadedGc = await memory(true);
inspector.close();
const perSessionMB = (m: { rss: number; heap: number }, k: "rss" | "heap") =>
  (m[k] - mem0[k]) / SESSIONS / 1e6;

const cpuShare = (cpu1 - cpu0) / wall; // cores used by the worker
const perSession = cpuShare / SESSIONS;
const echoedPps = (recv1 - recv0) / wall;
const rows: [string, string | number][] = [
  ["worker alone on a core (taskset)", pinned ? "yes" : "no"],
  ["sessions (echo, 50 pps each way)", SESSIONS],
  ["echoed packets/s received by clients", Math.round(echoedPps)],
  ["  expected", SESSIONS * 50],
  ["worker CPU (cores)", cpuShare],
  ["CPU per session (% of a core)", perSession * 100],
  ["sessions per core", Math.floor(1 / perSession)],
  ["CPU per echoed packet (us)", ((cpu1 - cpu0) / (recv1 - recv0)) * 1e6],
  ["memory per session (MB, RSS delta)", perSessionMB(memSessions, "rss")],
  ["  after a full GC: RSS", perSessionMB(memSessionsGc, "rss")],
  ["  after a full GC: V8 heap used + external", perSessionMB(memSessionsGc, "heap")],
  ["memory per session under load (MB, RSS delta)", perSessionMB(memLoaded, "rss")],
  ["  after a full GC: RSS", perSessionMB(memLoadedGc, "rss")],
  ["  after a full GC: V8 heap used + external", perSessionMB(memLoadedGc, "heap")],
  ["offer->connected p50 (ms, werift client)", percentile(connectMs, 50)],
  ["offer->connected p99 (ms, werift client)", percentile(connectMs, 99)],
  ["server create->connected p50 (ms)", percentile(serverMs, 50)],
  ["server create->connected p99 (ms)", percentile(serverMs, 99)],
];
report("transceiver", rows, {
  sessions: SESSIONS,
  pinned,
  cpuCoresWorker: cpuShare,
  cpuPerSessionPct: perSession * 100,
  sessionsPerCore: Math.floor(1 / perSession),
  echoedPps,
  cpuPerEchoedPacketUs: ((cpu1 - cpu0) / (recv1 - recv0)) * 1e6,
  memPerSessionMB: perSessionMB(memSessions, "rss"),
  memPerSessionAfterGcMB: perSessionMB(memSessionsGc, "rss"),
  heapPerSessionMB: perSessionMB(memSessionsGc, "heap"),
  memPerSessionLoadedMB: perSessionMB(memLoaded, "rss"),
  memPerSessionLoadedAfterGcMB: perSessionMB(memLoadedGc, "rss"),
  heapPerSessionLoadedMB: perSessionMB(memLoadedGc, "heap"),
  offerToConnectedMs: { p50: percentile(connectMs, 50), p99: percentile(connectMs, 99) },
  serverCreateToConnectedMs: { p50: percentile(serverMs, 50), p99: percentile(serverMs, 99) },
});
console.log(
  "note: werift as a DTLS client (our test client) waits a fixed 100 ms before its ClientHello;\n" +
    "      the transceiver answers a=setup:passive, so browsers (which do not wait) connect ~100 ms sooner.",
);
await Promise.all(clients.map((c) => c.close()));
await relayed.close();
process.exit(0);
