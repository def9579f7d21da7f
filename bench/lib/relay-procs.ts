/**
 * Helpers of the Global Relay benchmarks (bench/relay-*.ts): `voice-edge
 * relay` processes (optionally pinned), their worker pids and counters, and
 * the hint-bearing STUN request that opens a flow toward an echo.
 */

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Child, cpuSeconds, freeUdpPort, hasTaskset, runToEnd, start } from "./proc.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = join(ROOT, "bin/voice-edge.js");
export const KEYS = `1:${randomBytes(16).toString("hex")}`;
export const ENCAP_KEYS = `1:${randomBytes(16).toString("hex")}`;
export const CLUSTER = 1;

export interface BenchRelay {
  child: Child;
  port: number;
  adminPort: number;
  /** The processes that forward: the workers (or the relay itself with one worker). */
  pids: number[];
  /** CPU-seconds of those processes so far. */
  cpu(): number;
  /** A counter from /metrics (host total). */
  counter(name: string, labels: string): Promise<number>;
}

/** `voice-edge relay <args>` with an admin port, pinned to `cpu` when given; resolves once it listens. */
export async function benchRelay(args: string[], cpu?: number): Promise<BenchRelay> {
  const port = await freeUdpPort();
  const adminPort = await freeUdpPort();
  const child = start(
    process.execPath,
    [
      BIN,
      "relay",
      "--keys",
      KEYS,
      "--encap-keys",
      ENCAP_KEYS,
      "--listen",
      `127.0.0.1:${port}`,
      "--internal",
      "127.0.0.1:0",
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--idle-timeout",
      "600",
      ...args,
    ],
    cpu,
  );
  const m = await outputMatch(child, /(\{[^\n]*"relay listening"[^\n]*\})\n/);
  const line = JSON.parse(m[1]!) as { pids?: number[] };
  const pids = line.pids ?? [child.pid];
  const metrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return {
    child,
    port,
    adminPort,
    pids,
    cpu: () => pids.reduce((s, pid) => s + cpuSeconds(pid), 0),
    async counter(name, labels) {
      const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ""} (\\d+)`, "m");
      return Number(re.exec(await metrics())?.[1] ?? Number.NaN);
    },
  };
}

/** Resolves when the child's output matches (one listener, removed after), rejects if it exits first. */
export function outputMatch(child: Child, re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = child.output().match(re);
      if (!m) return;
      done();
      resolve(m);
    };
    const exit = () => {
      done();
      reject(new Error(`exited early: ${child.output().slice(-500)}`));
    };
    const t = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${re}: ${child.output().slice(-500)}`));
    }, ms);
    const done = () => {
      clearTimeout(t);
      child.proc.stdout!.off("data", check);
      child.proc.stderr!.off("data", check);
      child.proc.off("exit", exit);
    };
    child.proc.stdout!.on("data", check);
    child.proc.stderr!.on("data", check);
    child.proc.once("exit", exit);
    check();
  });
}

/** Moves a running process, all its threads, to one CPU (taskset -a -p), when taskset exists. */
export function pinPid(pid: number, cpu: number): boolean {
  if (!hasTaskset) return false;
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
  return true;
}

/** A Binding request whose USERNAME carries a valid hint naming the transceiver at `port` (the echo). */
export async function hintStun(port: number, cluster = CLUSTER): Promise<Uint8Array> {
  const file = join(tmpdir(), `relay-bench-${process.pid}-${port}.stun`);
  await runToEnd(process.execPath, [
    BIN,
    "hint",
    "--keys",
    KEYS,
    "--cluster",
    String(cluster),
    "--transceiver",
    `127.0.0.1:${port}`,
    "--stun-out",
    file,
  ]);
  const stun = readFileSync(file);
  rmSync(file, { force: true });
  return stun;
}

/**
 * Seconds CPU `cpu` was not idle (user, nice, system, irq, softirq: loopback
 * delivery runs in softirq), from /proc/stat.
 */
export function cpuBusySeconds(cpu: number): number {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return Number.NaN;
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / CLK_TCK;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

/**
 * REF's tree in a temporary directory (`git archive`), runnable: this worktree's
 * node_modules and relay addon build. For benchmarks against another commit in the same run.
 */
export function checkoutBaseline(ref: string): { bin: string; dir: string } {
  if (!/^[\w./^~-]+$/.test(ref)) throw new Error(`--baseline ${ref}: not a git ref`);
  const dir = mkdtempSync(join(tmpdir(), "relay-bench-base-"));
  const tar = execFileSync("git", ["-C", ROOT, "archive", ref], { maxBuffer: 1 << 30 });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  // The addon's folder in REF's tree: media/udp-batch/native since 53c3625, media/relay/native before.
  const addon = existsSync(join(dir, "media/udp-batch/native"))
    ? "media/udp-batch/native"
    : "media/relay/native";
  cpSync(join(ROOT, "media/udp-batch/native/build"), join(dir, addon, "build"), { recursive: true });
  return { bin: join(dir, "bin/voice-edge.js"), dir };
}
