/**
 * The C yardstick in ../shared/bench-udp (loadgen, echo, fwd): found, copied
 * to a temporary folder (the source may be read-only) and built with make.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { LoadResult, LoadSpec } from "./load.ts";
import { runToEnd } from "./proc.ts";

export interface BenchUdp {
  dir: string;
  loadgen: string;
  echo: string;
  fwd: string;
}

/** Builds bench-udp, or says why it cannot. */
export function buildBenchUdp(repoRoot: string): BenchUdp | { missing: string } {
  const src = process.env.VOICE_EDGE_BENCH_UDP ?? resolve(repoRoot, "../shared/bench-udp");
  if (!existsSync(join(src, "loadgen.c"))) return { missing: `no bench-udp sources at ${src}` };
  const dir = mkdtempSync(join(tmpdir(), "bench-udp-"));
  try {
    cpSync(src, dir, { recursive: true });
    execFileSync("make", ["-s", "-C", dir], { stdio: "pipe" });
  } catch (err) {
    return { missing: `could not build bench-udp (${(err as Error).message.split("\n")[0]})` };
  }
  return { dir, loadgen: join(dir, "loadgen"), echo: join(dir, "echo"), fwd: join(dir, "fwd") };
}

/** Runs the C load generator and parses its RESULT line. */
export async function cLoad(bu: BenchUdp, spec: LoadSpec, cpu?: number): Promise<LoadResult> {
  const args = ["-t", `127.0.0.1:${spec.port}`, "-n", String(spec.clients), "-s", String(spec.size)];
  if (spec.window) args.push("-W", String(spec.window));
  if (spec.rate) args.push("-r", String(spec.rate));
  args.push("-d", String(spec.durationS), "-w", String(spec.warmupS));
  if (spec.firstPayload) {
    const f = join(bu.dir, "first-payload.bin");
    writeFileSync(f, spec.firstPayload);
    args.push("--first-payload-file", f);
  }
  const out = await runToEnd(bu.loadgen, args, cpu);
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`loadgen printed no RESULT line:\n${out}`);
  const kv = Object.fromEntries(
    line
      .slice(7)
      .split(" ")
      .map((p) => p.split("=") as [string, string]),
  );
  return {
    sent: Number(kv.sent),
    recvd: Number(kv.recvd),
    lostPct: Number(kv.lost_pct),
    rxPps: Number(kv.rx_pps),
    p50Us: Number(kv.p50_us),
    p99Us: Number(kv.p99_us),
    p999Us: Number(kv.p999_us),
  };
}
