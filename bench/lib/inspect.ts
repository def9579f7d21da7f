/**
 * Memory of a spawned transceiver worker as V8 sees it, through the worker's
 * inspector: a full GC on demand, then `process.memoryUsage()`.
 *
 * Why: a worker's RSS right after sessions were set up (or under audio) also
 * holds garbage not yet collected and young-generation space V8 grew for the
 * allocation rate of the moment; per session, that says more about when GC
 * last ran than about what a session keeps. After a full GC, RSS and
 * heap-used deltas are what the sessions really retain.
 *
 * The transceiver must be spawned with `NODE_OPTIONS=--inspect-port=127.0.0.1:0`
 * (INSPECT_ENV) so the inspector, opened here with SIGUSR1 on the worker only,
 * listens on a free port; nothing else changes in the worker until then.
 */
import type { Readable } from "node:stream";

export const INSPECT_ENV = { NODE_OPTIONS: "--inspect-port=127.0.0.1:0" };

export interface WorkerMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface ProfiledFunction {
  name: string;
  /** Where it is: file:line. */
  at: string;
  selfMs: number;
}

export interface Inspected {
  /** Full, memory-reducing GC (as V8 does when a heap snapshot is taken). */
  gc(): Promise<void>;
  /** Samples the worker's CPU for `ms`: the functions by self time, most first. */
  profile(ms: number): Promise<ProfiledFunction[]>;
  memory(): Promise<WorkerMemory>;
  /** The value of a JavaScript expression evaluated in the worker (JSON-serializable). */
  evaluate<T>(expression: string): Promise<T>;
  close(): void;
}

/** Opens the inspector of `pid`, whose stderr (or that of its parent) is `stderr`. */
export async function inspectWorker(pid: number, stderr: Readable, timeoutMs = 5000): Promise<Inspected> {
  let out = "";
  const onData = (d: Buffer) => {
    out += d;
  };
  stderr.on("data", onData);
  process.kill(pid, "SIGUSR1");
  const deadline = Date.now() + timeoutMs;
  let url = /Debugger listening on (ws:\/\/\S+)/.exec(out)?.[1];
  while (!url) {
    if (Date.now() > deadline) throw new Error("the worker's inspector did not open (INSPECT_ENV?)");
    await new Promise((r) => setTimeout(r, 50));
    url = /Debugger listening on (ws:\/\/\S+)/.exec(out)?.[1];
  }
  stderr.off("data", onData);

  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.addEventListener("message", (ev) => {
    const m = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    if (m.error) p.reject(new Error(m.error.message));
    else p.resolve(m.result);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });

  async function evaluate<T>(expression: string): Promise<T> {
    const r = (await call("Runtime.evaluate", {
      expression: `JSON.stringify(${expression})`,
      returnByValue: true,
    })) as {
      result: { value: string };
    };
    return JSON.parse(r.result.value) as T;
  }

  return {
    async gc() {
      // Twice: the first pass can leave objects whose finalizers free more.
      await call("HeapProfiler.collectGarbage");
      await call("HeapProfiler.collectGarbage");
    },
    async profile(ms) {
      await call("Profiler.enable");
      await call("Profiler.start");
      await new Promise((r) => setTimeout(r, ms));
      const { profile } = (await call("Profiler.stop")) as { profile: CpuProfile };
      const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
      const self = new Map<string, ProfiledFunction>();
      profile.samples.forEach((id, i) => {
        const f = byNode.get(id)!.callFrame;
        const at = `${f.url.replace(/^.*\/(node_modules|media|shared)\//, "$1/")}:${f.lineNumber + 1}`;
        const key = `${f.functionName} ${at}`;
        const entry = self.get(key) ?? { name: f.functionName || "(anonymous)", at, selfMs: 0 };
        entry.selfMs += (profile.timeDeltas[i] ?? 0) / 1000;
        self.set(key, entry);
      });
      return [...self.values()].sort((a, b) => b.selfMs - a.selfMs);
    },
    memory: () => evaluate<WorkerMemory>("process.memoryUsage()"),
    evaluate,
    close() {
      ws.close();
    },
  };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}
