/**
 * Redis for relay tests: the shared server at REDIS_URL (never stopped by a
 * test; keys under a prefix unique to the run, removed afterwards), throwaway
 * servers a test may kill and restart, and a TCP proxy that can stall or cut
 * the way to Redis. Without Redis the suites skip loudly, except in CI
 * (CI=true), where that is a failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server, Socket } from "node:net";
import { Redis } from "ioredis";
import { freePort } from "./stack.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

async function ping(url: string): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on("error", () => {});
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

function hasBinary(name: string): boolean {
  try {
    execFileSync(name, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Is the shared Redis there? In CI it must be; elsewhere its absence is reported and the suite skips. */
export async function sharedRedisAvailable(suite: string): Promise<boolean> {
  if (await ping(REDIS_URL)) return true;
  const msg = `${suite}: no Redis at ${REDIS_URL}`;
  if (process.env.CI === "true") throw new Error(`${msg} (required in CI)`);
  console.warn(`\n*** SKIPPED ${msg}: start one (redis-server) or set REDIS_URL ***\n`);
  return false;
}

/** Can tests start their own redis-server? Same rule as the shared one. */
export function redisServerAvailable(suite: string): boolean {
  if (hasBinary("redis-server")) return true;
  const msg = `${suite}: no redis-server binary for a throwaway Redis`;
  if (process.env.CI === "true") throw new Error(`${msg} (required in CI)`);
  console.warn(`\n*** SKIPPED ${msg} ***\n`);
  return false;
}

/** A key prefix no other run uses. */
export function uniquePrefix(what: string): string {
  return `ve-test:${what}:${process.pid}-${randomBytes(4).toString("hex")}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function dropKeys(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
}

/** Keys under `prefix` now. */
export async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      out.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    return out;
  } finally {
    r.disconnect();
  }
}

/** A redis-server of our own on loopback (no persistence): kill it, start it again on the same port. */
export class ThrowawayRedis {
  readonly port: number;
  private child: ChildProcess | undefined;
  private readonly extra: string[];

  constructor(port: number, extra: string[] = []) {
    this.port = port;
    this.extra = extra;
  }

  static async start(extra: string[] = []): Promise<ThrowawayRedis> {
    const r = new ThrowawayRedis(await freePort(), extra);
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server (again); resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...this.extra],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d;
        if (out.includes("Ready to accept connections")) resolve();
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${out}`)));
    });
  }

  /** SIGKILL, and wait for it to be gone. */
  async kill(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = once(c, "exit");
    c.kill("SIGKILL");
    await gone;
  }
}

/**
 * A TCP proxy in front of Redis: pass, stall (hold every byte until pass():
 * Redis looks slow, commands time out, late answers arrive in order) or cut
 * (close every connection and refuse new ones: Redis looks down).
 */
export class TcpProxy {
  readonly port: number;
  private readonly target: { host: string; port: number };
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private stalled = false;
  private held: [Socket, Buffer][] = [];

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.target = target;
  }

  static async start(targetUrl: string): Promise<TcpProxy> {
    const u = new URL(targetUrl);
    const p = new TcpProxy(await freePort(), { host: u.hostname, port: Number(u.port || 6379) });
    await p.listen();
    return p;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async listen(): Promise<void> {
    const server = createServer((down) => {
      const up = new Socket();
      up.connect(this.target.port, this.target.host);
      const pair: [Socket, Socket] = [down, up];
      this.pairs.add(pair);
      const end = () => {
        down.destroy();
        up.destroy();
        this.pairs.delete(pair);
      };
      down.on("error", end).on("close", end);
      up.on("error", end).on("close", end);
      down.on("data", (d: Buffer) => {
        if (this.stalled) this.held.push([up, d]);
        else up.write(d);
      });
      up.on("data", (d: Buffer) => {
        if (this.stalled) this.held.push([down, d]);
        else down.write(d);
      });
    });
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.server = server;
  }

  /** Holds every byte both ways until pass(): requests go unanswered meanwhile. */
  stall(): void {
    this.stalled = true;
  }

  async pass(): Promise<void> {
    this.stalled = false;
    for (const [to, d] of this.held.splice(0)) if (!to.destroyed) to.write(d);
    if (!this.server) await this.listen();
  }

  /** Closes every connection and stops listening: Redis is down. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.held = [];
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/** A free TCP port p whose cluster bus port p+10000 is free too. */
async function clusterPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 20000);
    if ((await tcpFree(p)) && (await tcpFree(p + 10000))) return p;
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A throwaway Redis Cluster of `n` masters on loopback, slots assigned, state ok. */
export async function startRedisCluster(
  n = 3,
): Promise<{ url: string; nodes: ThrowawayRedis[]; stop(): Promise<void> }> {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "ve-redis-cluster-"));
  const nodes: ThrowawayRedis[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((x) => x.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const port = await clusterPort();
      const node = new ThrowawayRedis(port, [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--dir",
        dir,
      ]);
      await node.restart();
      nodes.push(node);
    }
    execFileSync(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...nodes.map((x) => `127.0.0.1:${x.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      { stdio: "pipe" },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const info = execFileSync("redis-cli", ["-p", String(nodes[0]!.port), "cluster", "info"], {
        encoding: "utf8",
      });
      if (info.includes("cluster_state:ok")) break;
      if (Date.now() > deadline) throw new Error(`cluster not ok:\n${info}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis+cluster://${nodes.map((x) => `127.0.0.1:${x.port}`).join(",")}`, nodes, stop };
}

/** Resolves with the keys under `prefix` once there are `n` of them; rejects after `ms`. */
export async function waitForKeys(url: string, prefix: string, n: number, ms = 3000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const keys = await keysUnder(url, prefix);
    if (keys.length >= n) return keys.sort();
    if (Date.now() > deadline)
      throw new Error(`${keys.length} keys under ${prefix}, not ${n}, after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
