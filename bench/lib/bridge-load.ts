/**
 * Load for benchmarks of a transceiver in bridge mode: speech-like Opus that
 * every client replays, an echoing backend in its own process, one timer that sends every client's
 * next packet every 20 ms, and the worker's pacer counters from /metrics.
 * Sessions are opened with open-session.ts.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RtpHeader, RtpPacket } from "werift";
import { OpusEncoder } from "../../media/transceiver/bridge/opus.ts";
import type { TestClient } from "../../test/support/werift-client.ts";

/** 2 s of speech-like audio (voiced 0.7 s, near-silent 0.3 s), Opus-encoded at 48 kHz, 20 ms per packet. */
export function speechPackets(): Buffer[] {
  const enc = new OpusEncoder({ rate: 48000 });
  const packets: Buffer[] = [];
  let ph = 0;
  for (let f = 0; f < 100; f++) {
    const b = Buffer.alloc(960 * 2);
    const voiced = f % 50 < 35;
    for (let i = 0; i < 960; i++) {
      ph += (2 * Math.PI * (145 + 35 * Math.sin(f / 7))) / 48000;
      const v = voiced ? 0.3 * Math.sin(ph) + 0.15 * Math.sin(2 * ph) : 0.002 * (Math.random() - 0.5);
      b.writeInt16LE(Math.round(v * 32767), i * 2);
    }
    packets.push(enc.encode(b));
  }
  enc.free();
  return packets;
}

/** The echoing backend (`lib/echo-backend.ts`) in its own process: our protocol, or Realtime's with `--realtime`. */
export async function startEchoBackend(
  ...args: string[]
): Promise<{ url: string; pid: number; stop: () => void }> {
  const proc = spawn(
    process.execPath,
    [fileURLToPath(new URL("./echo-backend.ts", import.meta.url)), ...args],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise<string>((resolve) => {
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /ready (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  return { url, pid: proc.pid!, stop: () => proc.kill("SIGTERM") };
}

/** One timer that sends each client's next packet of `packets` every 20 ms, on a drift-free grid. */
export class AudioLoad {
  readonly clients: TestClient[] = [];
  private k = 0;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  private readonly packets: Buffer[];

  constructor(packets: Buffer[]) {
    this.packets = packets;
  }

  start(): void {
    this.next = performance.now();
    this.send();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Packets received from the server, over all clients. */
  received(): number {
    return this.clients.reduce((n, c) => n + c.received.length, 0);
  }

  private send = (): void => {
    const k = this.k++;
    for (const [i, c] of this.clients.entries()) {
      const header = new RtpHeader({
        payloadType: 111,
        sequenceNumber: k & 0xffff,
        timestamp: (k * 960) >>> 0,
        marker: k === 0,
      });
      c.audioOut.writeRtp(new RtpPacket(header, this.packets[(k + i) % this.packets.length]!));
    }
    this.next += 20;
    this.timer = setTimeout(this.send, Math.max(0, this.next - performance.now()));
  };
}

export interface PacerStats {
  ticks: number;
  skipped: number;
  /** Worst lateness since the worker started. */
  maxLateMs: number;
}

/** Worker 0's pacer counters. */
export async function pacerStats(txUrl: string): Promise<PacerStats> {
  const metrics = await (await fetch(`${txUrl}/metrics`)).text();
  const stat = (name: string) =>
    Number(new RegExp(`bridge_pacer\\{worker="0",stat="${name}"\\} ([\\d.e+-]+)`).exec(metrics)?.[1] ?? 0);
  return { ticks: stat("ticks"), skipped: stat("skipped_ticks"), maxLateMs: stat("max_late_ms") };
}

/** Skipped ticks between two readings, % of the ticks that were due. */
export function missPct(before: PacerStats, after: PacerStats): number {
  const ticks = after.ticks - before.ticks;
  const skipped = after.skipped - before.skipped;
  return (skipped / Math.max(1, ticks + skipped)) * 100;
}
