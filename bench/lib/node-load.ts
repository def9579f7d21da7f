/**
 * Fallback load generator and echo sink in Node, for machines without
 * bench-udp. Each runs in a worker thread so it has its own event loop. Much
 * slower than the C tools: its numbers are for a sanity check, not ratios.
 *
 * Packets: 0x80 (RTP-looking), then client index (u32), sequence (u32) and
 * send time (f64, ms) at offsets 4, 8 and 12, padded to the size asked for.
 */
import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { LoadResult, LoadSpec } from "./load.ts";

type Job = { kind: "load"; spec: LoadSpec } | { kind: "echo"; port: number };

/** Runs a load in a worker thread. */
export async function nodeLoad(spec: LoadSpec): Promise<LoadResult> {
  const w = new Worker(new URL(import.meta.url), { workerData: { kind: "load", spec } satisfies Job });
  const [result] = await once(w, "message");
  await w.terminate();
  return result as LoadResult;
}

/** Starts an echo sink in a worker thread on 127.0.0.1:port; returns its stop function. */
export async function nodeEcho(port: number): Promise<() => Promise<void>> {
  const w = new Worker(new URL(import.meta.url), { workerData: { kind: "echo", port } satisfies Job });
  await once(w, "message");
  return async () => {
    await w.terminate();
  };
}

async function echo(port: number): Promise<void> {
  const s = createSocket({ type: "udp4", recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  s.on("message", (msg, r) => s.send(msg, r.port, r.address));
  await new Promise<void>((r) => s.bind(port, "127.0.0.1", () => r()));
  parentPort!.postMessage("ready");
}

async function load(spec: LoadSpec): Promise<LoadResult> {
  const RING = 1 << 20;
  const sentAt = new Float64Array(RING); // 0 = not in flight
  const sockets: Socket[] = [];
  const samples: number[] = [];
  let seq = 0;
  let inflight = 0;
  let measuredFrom = Number.POSITIVE_INFINITY;
  let measuredSent = 0;
  let recvd = 0;
  let rr = 0;
  let oldest = 0;
  const buf = Buffer.alloc(Math.max(24, spec.size));
  buf[0] = 0x80;

  const onReply = (msg: Buffer) => {
    if (msg.length < 20 || msg[0] !== 0x80) return; // e.g. the STUN answer
    const s = msg.readUInt32BE(8);
    const t = sentAt[s % RING]!;
    if (t === 0) return;
    sentAt[s % RING] = 0;
    inflight--;
    if (s >= measuredFrom) {
      recvd++;
      samples.push((performance.now() - t) * 1000);
    }
    if (spec.window && sending) sendOne();
  };
  for (let i = 0; i < spec.clients; i++) {
    const s = createSocket("udp4");
    s.on("message", onReply);
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    s.connect(spec.port, "127.0.0.1");
    await once(s, "connect");
    sockets.push(s);
  }
  if (spec.firstPayload) {
    for (const s of sockets) s.send(spec.firstPayload);
    await new Promise((r) => setTimeout(r, 200));
  }

  let sending = true;
  function sendOne() {
    const c = rr++ % spec.clients;
    const s = seq++;
    const now = performance.now();
    buf.writeUInt32BE(c, 4);
    buf.writeUInt32BE(s, 8);
    buf.writeDoubleBE(now, 12);
    sentAt[s % RING] = now;
    inflight++;
    if (s >= measuredFrom) measuredSent++;
    sockets[c]!.send(Buffer.from(buf));
  }

  const t0 = performance.now();
  const tMeasure = t0 + spec.warmupS * 1000;
  const tEnd = tMeasure + spec.durationS * 1000;
  const timer = setInterval(() => {
    const now = performance.now();
    if (measuredFrom === Number.POSITIVE_INFINITY && now >= tMeasure) measuredFrom = seq;
    if (now >= tEnd) {
      sending = false;
      return;
    }
    if (spec.rate) {
      const due = Math.floor(((now - t0) / 1000) * spec.rate);
      while (seq < due) sendOne();
    } else if (spec.window) {
      // Packets unanswered for 200 ms leave the window, so losses do not shrink it forever.
      const cutoff = now - 200;
      while (oldest < seq) {
        const t = sentAt[oldest % RING]!;
        if (t !== 0) {
          if (t > cutoff) break;
          sentAt[oldest % RING] = 0;
          inflight--;
        }
        oldest++;
      }
      while (inflight < spec.window) sendOne();
    }
  }, 1);
  await new Promise((r) => setTimeout(r, (spec.warmupS + spec.durationS) * 1000 + 300));
  clearInterval(timer);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  samples.sort((a, b) => a - b);
  const pct = (q: number) =>
    samples.length ? samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]! : 0;
  return {
    sent: measuredSent,
    recvd,
    lostPct: measuredSent ? (100 * Math.max(0, measuredSent - recvd)) / measuredSent : 0,
    rxPps: recvd / spec.durationS,
    p50Us: pct(0.5),
    p99Us: pct(0.99),
    p999Us: pct(0.999),
  };
}

if (!isMainThread && parentPort) {
  const job = workerData as Job;
  if (job.kind === "echo") await echo(job.port);
  else parentPort.postMessage(await load(job.spec));
}
