/**
 * Pacing N audio streams at 20 ms: one timer per worker driving all streams
 * (what the bridge does) against one setInterval per stream. Measures the
 * process CPU and how late each stream's ticks run behind their 20 ms grid.
 * The per-stream work is a small stand-in (a 960-byte copy), so the numbers
 * are the timers' own cost and precision.
 *
 *   node bench/bridge-pacer.ts [--streams 200] [--seconds 4]
 */
import { parseArgs } from "node:util";
import { Pacer } from "../media/transceiver/bridge/pacer.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({
  options: { streams: { type: "string", default: "200" }, seconds: { type: "string", default: "4" } },
});
const N = Number(values.streams);
const MS = Number(values.seconds) * 1000;
const src = Buffer.alloc(960, 1);
const work = () => Buffer.from(src);

async function shared(): Promise<{ cpu: number; late: number[]; ticks: number }> {
  const pacer = new Pacer();
  const late: number[] = [];
  let ticks = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < N; i++)
    pacer.add({
      send: () => {
        work();
        ticks++;
      },
      prepare: () => {},
    });
  // The pacer reports how late each tick ran behind the tick its timer was set for.
  pacer.add({ send: () => late.push(pacer.lateMs), prepare: () => {} });
  await new Promise((r) => setTimeout(r, MS));
  const u = process.cpuUsage(cpu0);
  for (const s of [...(pacer as unknown as { streams: Set<never> }).streams]) pacer.delete(s);
  return { cpu: (u.user + u.system) / 1000 / MS, late, ticks };
}

async function perStream(): Promise<{ cpu: number; late: number[]; ticks: number }> {
  const late: number[] = [];
  let ticks = 0;
  const timers: NodeJS.Timeout[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const start = performance.now();
    let k = 0;
    timers.push(
      setInterval(() => {
        k++;
        work();
        ticks++;
        if (i === 0) late.push(performance.now() - (start + k * 20));
      }, 20),
    );
  }
  await new Promise((r) => setTimeout(r, MS));
  const u = process.cpuUsage(cpu0);
  for (const t of timers) clearInterval(t);
  return { cpu: (u.user + u.system) / 1000 / MS, late, ticks };
}

const a = await shared();
const b = await perStream();
const stat = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? Number.NaN };
};
const la = stat(a.late);
const lb = stat(b.late);
// setInterval reschedules from when it ran, so it drifts: its lateness is measured against the ideal 20 ms grid.
report(
  `bridge pacer: ${N} streams for ${MS / 1000} s`,
  [
    ["one timer: CPU, % of a core", a.cpu * 100],
    [
      "one timer: tick lateness p50 / p99 / max, ms",
      `${la.p50.toFixed(2)} / ${la.p99.toFixed(2)} / ${la.max.toFixed(2)}`,
    ],
    ["one timer: stream ticks per second (skipped ticks are not made up)", Math.round(a.ticks / (MS / 1000))],
    ["setInterval per stream: CPU, % of a core", b.cpu * 100],
    [
      "setInterval per stream: lateness vs grid p50 / p99 / max, ms",
      `${lb.p50.toFixed(2)} / ${lb.p99.toFixed(2)} / ${lb.max.toFixed(2)}`,
    ],
    ["setInterval per stream: stream ticks per second", Math.round(b.ticks / (MS / 1000))],
  ],
  {
    streams: N,
    seconds: MS / 1000,
    shared: { cpu: a.cpu, late: la, ticks: a.ticks },
    perStream: { cpu: b.cpu, late: lb, ticks: b.ticks },
  },
);
