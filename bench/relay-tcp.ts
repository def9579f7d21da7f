/**
 * Added latency of the ICE-TCP ingress against the UDP one, same run:
 * `node bench/relay-tcp.ts [--duration S] [--reps N] [--flows N] [--rate RT/S] [--size B]`.
 *
 * One Global Relay ingress (`voice-edge relay --tier ingress --tcp-listen`, one
 * worker, CPU 1) whose "cluster relay" is a UDP echo (it answers each
 * encapsulated datagram with itself, header included, as a transceiver would).
 * The same Node harness (CPU 0) drives three paths, interleaved, open loop at
 * the same rate, medians of --reps runs:
 *
 *   direct   UDP client -> echo                               (the harness and echo alone)
 *   udp      UDP client -> ingress -> echo -> ingress -> client
 *   tcp      TCP client (RFC 4571 frames) -> ingress -> echo (UDP) -> ingress -> same connection
 *
 * "added" is a path minus direct: what the ingress costs a round trip, by
 * transport. The harness is Node, so absolute numbers include its event loop;
 * the ratio tcp/udp of the added latency is the figure to read.
 */
import { createSocket, type Socket } from "node:dgram";
import { connect, type Socket as TcpSocket } from "node:net";
import { parseArgs } from "node:util";
import { FrameDecoder } from "../media/wire/tcp-frame.ts";
import { nodeEcho } from "./lib/node-load.ts";
import { freeUdpPort, hasTaskset, stopAll } from "./lib/proc.ts";
import { benchRelay, CLUSTER, fmt, hintStun, median, pinPid } from "./lib/relay-procs.ts";
import { percentile } from "./lib/report.ts";

const { values: argv } = parseArgs({
  options: {
    duration: { type: "string", default: "3" },
    reps: { type: "string", default: "3" },
    flows: { type: "string", default: "50" },
    rate: { type: "string", default: "2500" },
    size: { type: "string", default: "200" },
  },
});
const DURATION_MS = Number(argv.duration) * 1000;
const REPS = Math.max(1, Number(argv.reps));
const FLOWS = Number(argv.flows);
const RATE = Number(argv.rate);
const SIZE = Math.max(24, Number(argv.size));
const HARNESS_CPU = 0;
const RELAY_CPU = 1;

type Path = "direct" | "udp" | "tcp";
const PATHS: Path[] = ["direct", "udp", "tcp"];

/** One flow of the harness: send a packet, call back with each reply. */
interface Flow {
  send(packet: Buffer): void;
  close(): void;
}

async function udpFlow(port: number, first: Uint8Array | undefined, onReply: (b: Buffer) => void) {
  const s: Socket = createSocket("udp4");
  s.on("message", (m) => onReply(m));
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  s.connect(port, "127.0.0.1");
  await new Promise<void>((r) => s.once("connect", () => r()));
  if (first) s.send(first);
  return { send: (p: Buffer) => s.send(p), close: () => s.close() } satisfies Flow;
}

async function tcpFlow(port: number, first: Uint8Array, onReply: (b: Buffer) => void) {
  const s: TcpSocket = connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  const decoder = new FrameDecoder(65535);
  s.on("data", (chunk: Buffer) =>
    decoder.push(chunk, 0, (buf, off, len) => {
      onReply(buf.subarray(off, off + len));
      return true;
    }),
  );
  const framed = (p: Uint8Array) => {
    const out = Buffer.allocUnsafe(p.length + 2);
    out.writeUInt16BE(p.length, 0);
    out.set(p, 2);
    return out;
  };
  s.write(framed(first));
  return { send: (p: Buffer) => s.write(framed(p)), close: () => s.destroy() } satisfies Flow;
}

/**
 * Open loop at RATE over FLOWS flows for DURATION_MS: round-trip microseconds, loss, and the
 * ingress's CPU per round trip (microseconds; `cpu` reads its CPU-seconds).
 */
async function run(make: (onReply: (b: Buffer) => void) => Promise<Flow>, cpu: () => number) {
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  const onReply = (b: Buffer) => {
    if (b.length < 16 || b[0] !== 0x80) return; // the STUN answer
    const seq = b.readUInt32BE(8);
    const t = sentAt.get(seq);
    if (t === undefined) return;
    sentAt.delete(seq);
    rtts.push((performance.now() - t) * 1000);
  };
  const flows = await Promise.all(Array.from({ length: FLOWS }, () => make(onReply)));
  await new Promise((r) => setTimeout(r, 300)); // the flows open
  const packet = Buffer.alloc(SIZE);
  packet[0] = 0x80;
  let seq = 0;
  const cpu0 = cpu();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now - t0 >= DURATION_MS) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor(((now - t0) / 1000) * RATE);
      while (seq < due) {
        const p = Buffer.from(packet);
        p.writeUInt32BE(seq, 8);
        sentAt.set(seq, performance.now());
        flows[seq % FLOWS]!.send(p);
        seq++;
      }
    }, 1);
  });
  await new Promise((r) => setTimeout(r, 300)); // the last replies
  const cpuUs = ((cpu() - cpu0) * 1e6) / Math.max(1, rtts.length);
  for (const f of flows) f.close();
  rtts.sort((a, b) => a - b);
  return {
    p50: percentile(rtts, 50),
    p99: percentile(rtts, 99),
    loss: (100 * sentAt.size) / Math.max(1, seq),
    cpuUs,
  };
}

async function main() {
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  const pinnedHere = pinPid(process.pid, HARNESS_CPU);
  const echoPort = await freeUdpPort();
  const stopEcho = await nodeEcho(echoPort);
  const tcpPort = await freeUdpPort(); // a free number; the kernel keeps TCP and UDP ports apart
  const ingress = await benchRelay(
    [
      "--workers",
      "1",
      "--tier",
      "ingress",
      "--clusters",
      `${CLUSTER}=127.0.0.1:${echoPort}`,
      "--tcp-listen",
      `127.0.0.1:${tcpPort}`,
      // Every flow of the harness comes from 127.0.0.1.
      "--tcp-max-per-address",
      "100000",
    ],
    RELAY_CPU,
  );
  try {
    const first = await hintStun(echoPort);
    const make: Record<Path, (onReply: (b: Buffer) => void) => Promise<Flow>> = {
      direct: (r) => udpFlow(echoPort, undefined, r),
      udp: (r) => udpFlow(ingress.port, first, r),
      tcp: (r) => tcpFlow(tcpPort, first, r),
    };
    const cpu = () => ingress.cpu();
    await run(make.udp, cpu); // warm-up: the JIT of both sides
    await run(make.tcp, cpu);
    type Q = "p50" | "p99" | "loss" | "cpuUs";
    const samples = new Map<Path, Record<Q, number[]>>();
    for (let rep = 0; rep < REPS; rep++)
      for (const path of PATHS) {
        const r = await run(make[path], cpu);
        const s = samples.get(path) ?? { p50: [], p99: [], loss: [], cpuUs: [] };
        for (const q of ["p50", "p99", "loss", "cpuUs"] as const) s[q].push(r[q]);
        samples.set(path, s);
      }
    const m = (path: Path, q: Q) => median(samples.get(path)![q]);
    const added = (path: Path, q: "p50" | "p99") => m(path, q) - m("direct", q);
    console.log(
      `\n${FLOWS} flows, ${SIZE}-byte packets, ${RATE} round trips/s, ${DURATION_MS / 1000}s per run, median of ${REPS}; ` +
        `harness (Node) on CPU ${HARNESS_CPU}${pinnedHere ? "" : " (not pinned)"}, ingress on CPU ${RELAY_CPU}` +
        `${hasTaskset ? "" : " (no taskset: not pinned)"}; round-trip microseconds\n`,
    );
    console.log(
      ["path", "p50", "p99", "loss", "added p50", "added p99", "ingress CPU/rt"]
        .map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(10)))
        .join(" "),
    );
    for (const path of PATHS)
      console.log(
        [
          path.padEnd(8),
          fmt(m(path, "p50"), 1).padStart(10),
          fmt(m(path, "p99"), 1).padStart(10),
          `${fmt(m(path, "loss"), 3)}%`.padStart(10),
          (path === "direct" ? "-" : fmt(added(path, "p50"), 1)).padStart(10),
          (path === "direct" ? "-" : fmt(added(path, "p99"), 1)).padStart(10),
          (path === "direct" ? "-" : `${fmt(m(path, "cpuUs"), 1)} us`).padStart(14),
        ].join(" "),
      );
    const ratio = (q: "p50" | "p99") => added("tcp", q) / added("udp", q);
    const cpuRatio = m("tcp", "cpuUs") / m("udp", "cpuUs");
    console.log(
      `\nTCP ingress / UDP ingress, added latency: ${fmt(ratio("p50"), 2)}x at p50, ${fmt(ratio("p99"), 2)}x at p99; ` +
        `ingress CPU per round trip: ${fmt(cpuRatio, 2)}x`,
    );
    const tcpDrops = await ingress.counter("voice_edge_relay_tcp_backpressure_drops_total", "");
    console.log(
      JSON.stringify({
        bench: "relay-tcp",
        flows: FLOWS,
        size: SIZE,
        rate: RATE,
        reps: REPS,
        rows: PATHS.map((path) => ({
          path,
          p50Us: m(path, "p50"),
          p99Us: m(path, "p99"),
          lossPct: m(path, "loss"),
          ingressCpuUsPerRt: path === "direct" ? null : m(path, "cpuUs"),
        })),
        addedP50Ratio: ratio("p50"),
        addedP99Ratio: ratio("p99"),
        cpuPerRtRatio: cpuRatio,
        tcpBackpressureDrops: tcpDrops,
      }),
    );
  } finally {
    await ingress.child.stop();
    await stopEcho();
    await stopAll();
  }
}

await main();
