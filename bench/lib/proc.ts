/** Process helpers for benchmarks: CPU time from /proc, pinning, free ports, clean stops. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a whole process (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Command and args, pinned to `cpu` with taskset when there is one and the machine has two cores. */
export function pinned(cpu: number | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu !== undefined && hasTaskset ? ["taskset", ["-c", String(cpu), cmd, ...args]] : [cmd, args];
}

/**
 * Moves a running process, all its threads, to `cpu` (when there is taskset and the core); whether it did.
 * Benches give the measured worker a core of its own this way, the load generator the other.
 */
export function pinRunning(pid: number, cpu: number): boolean {
  if (!hasTaskset || cpu >= cpus().length) return false; // cpus(), not availableParallelism(): that one shrinks once this process is pinned
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
  return true;
}

export { freeUdpPort } from "../../test/support/udp.ts";

export interface Child {
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** SIGINT (the C tools print their counters on it), then SIGKILL after 2 s; resolves with the output. */
  stop(): Promise<string>;
}

const running = new Set<Child>();

export function start(cmd: string, args: string[], cpu?: number): Child {
  const [c, a] = pinned(cpu, cmd, args);
  const proc = spawn(c, a, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => {
    out += d;
  });
  proc.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = once(proc, "exit");
  const child: Child = {
    proc,
    pid: proc.pid!,
    output: () => out,
    async stop() {
      running.delete(child);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGINT");
        const t = setTimeout(() => proc.kill("SIGKILL"), 2000);
        await exited;
        clearTimeout(t);
      }
      return out;
    },
  };
  running.add(child);
  return child;
}

/** Stops every child still running (on errors and Ctrl-C). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/** Resolves when the child's output matches, rejects if it exits first or after `ms`. */
export async function waitForOutput(child: Child, re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = child.output().match(re);
    if (m) return m;
    if (child.proc.exitCode !== null) throw new Error(`exited early: ${child.output().slice(-500)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${child.output().slice(-500)}`);
    await Promise.race([once(child.proc.stdout!, "data"), once(child.proc.stderr!, "data"), sleep(100)]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a command to completion and returns its stdout. */
export async function runToEnd(cmd: string, args: string[], cpu?: number): Promise<string> {
  const c = start(cmd, args, cpu);
  const [code] = await once(c.proc, "exit");
  running.delete(c);
  if (code !== 0) throw new Error(`${cmd} exited ${code}: ${c.output().slice(-500)}`);
  return c.output();
}

/**
 * Seconds one CPU spent running processes (user, nice, system), from
 * /proc/stat. Interrupt and softirq time is left out: loopback delivery runs
 * there and is not billed to any process.
 */
export function cpuProcessSeconds(cpu: number): number {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return Number.NaN;
  const [user, nice, system] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system!) / CLK_TCK;
}
