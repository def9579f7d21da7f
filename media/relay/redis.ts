/**
 * The Redis behind the shared flow records (ioredis), standalone or Cluster:
 *
 *   redis://[user:pass@]host:6379[/db], rediss://...       one server (or a proxy in front of many)
 *   redis+cluster://[user:pass@]host1:7000,host2:7001      Redis Cluster, from seed nodes
 *   redis://host1:7000,redis://host2:7001                  Redis Cluster, the same as a list of URLs
 *
 * Commands fail fast while disconnected (no offline queue) and time out
 * after `commandTimeoutMs`: a relay never waits on Redis for a known flow, and
 * a slow Redis costs at most that much for an unknown one. The connection
 * comes back on its own (retry with backoff); outages are logged once each.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../runtime/log.ts";
import type { FlowKv } from "./flow-store.ts";

export interface RedisKvOptions {
  /** Default 250 ms. */
  commandTimeoutMs?: number;
  /** Default 1000 ms. */
  connectTimeoutMs?: number;
}

export type RedisTarget =
  | { kind: "standalone"; url: string }
  | {
      kind: "cluster";
      nodes: { host: string; port: number }[];
      username?: string;
      password?: string;
      tls: boolean;
    };

/** How a URL is read; throws with a clear message on what is not one. */
export function parseRedisUrl(url: string): RedisTarget {
  const s = url.trim();
  const cluster = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(s);
  if (cluster) {
    const [user, pass] = splitUserinfo(cluster[2]);
    return {
      kind: "cluster",
      nodes: cluster[3]!.split(",").map((n) => hostPort(n, url)),
      username: user,
      password: pass,
      tls: cluster[1] === "rediss",
    };
  }
  if (s.includes(",")) {
    const parts = s.split(",").map((p) => p.trim());
    let username: string | undefined;
    let password: string | undefined;
    let tls = false;
    const nodes = parts.map((p) => {
      const u = asUrl(p, url);
      if (u.username || u.password) {
        username = decodeURIComponent(u.username) || undefined;
        password = decodeURIComponent(u.password) || undefined;
      }
      tls ||= u.protocol === "rediss:";
      return { host: unbracket(u.hostname), port: Number(u.port || 6379) };
    });
    return { kind: "cluster", nodes, username, password, tls };
  }
  asUrl(s, url);
  return { kind: "standalone", url: s };
}

/** The URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/g, "//$1:***@");
}

export class RedisKv implements FlowKv {
  readonly client: Redis | Cluster;
  onUp: (() => void) | undefined = undefined;
  private ready = false;
  private everReady = false;
  private closed = false;
  private warnedFirst = false;
  private readonly log: Logger;
  private readonly where: string;

  constructor(url: string, log: Logger, o: RedisKvOptions = {}) {
    const target = parseRedisUrl(url);
    this.log = log;
    this.where = redactRedisUrl(url);
    const common: RedisOptions = {
      commandTimeout: o.commandTimeoutMs ?? 250,
      connectTimeout: o.connectTimeoutMs ?? 1000,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
    };
    const backoff = (times: number) => Math.min(100 * times, 2000);
    if (target.kind === "standalone") {
      this.client = new Redis(target.url, { ...common, enableOfflineQueue: false, retryStrategy: backoff });
    } else {
      this.client = new Cluster(target.nodes, {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: backoff,
        slotsRefreshTimeout: 1000,
        redisOptions: {
          ...common,
          username: target.username,
          password: target.password,
          tls: target.tls ? {} : undefined,
        },
      });
    }
    this.client.on("ready", () => {
      this.ready = true;
      if (this.everReady) this.log.info({ redis: this.where }, "redis available again: flow records resume");
      else if (this.warnedFirst) this.log.info({ redis: this.where }, "redis connected: flow records on");
      else this.log.debug({ redis: this.where }, "redis connected: flow records on");
      const again = this.everReady;
      this.everReady = true;
      if (again) this.onUp?.();
    });
    const down = (err?: unknown) => {
      if (!this.ready || this.closed) return;
      this.ready = false;
      this.log.warn(
        { redis: this.where, err: err instanceof Error ? err.message : undefined },
        "redis unavailable: known flows go on, new ones open from STUN; reconnecting",
      );
    };
    this.client.on("close", () => down());
    this.client.on("end", () => down());
    this.client.on("error", (err: unknown) => {
      // Emitted for every failed attempt while reconnecting: logged once per outage (down()).
      if (this.ready && this.client.status !== "ready") down(err);
      else if (!this.everReady && !this.warnedFirst) {
        this.warnedFirst = true;
        this.log.warn(
          { redis: this.where, err: err instanceof Error ? err.message : String(err) },
          "redis not reachable yet: flows open from STUN only; retrying",
        );
      }
    });
  }

  get up(): boolean {
    return this.ready && this.client.status === "ready";
  }

  /** Resolves true once connected, false after `timeoutMs` (the relay then starts degraded). */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.client.off("ready", onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const t = setTimeout(() => done(false), timeoutMs);
      this.client.on("ready", onReady);
    });
  }

  get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  del(key: string): Promise<unknown> {
    return this.client.del(key);
  }

  set(key: string, value: string, ttlMs: number): Promise<unknown> {
    return this.client.set(key, value, "PX", Math.max(1, Math.round(ttlMs)));
  }

  /** Sends what is queued (bounded wait), then closes. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.client.status === "ready") {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([
        this.client.quit().catch(() => undefined),
        new Promise((r) => {
          t = setTimeout(r, 500);
        }),
      ]);
      clearTimeout(t);
    }
    this.client.disconnect();
  }
}

function asUrl(s: string, whole: string): URL {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`redis URL "${redactRedisUrl(whole)}" is not a URL (redis://host:port)`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    throw new Error(`redis URL "${redactRedisUrl(whole)}": expected redis://, rediss:// or redis+cluster://`);
  if (!u.hostname) throw new Error(`redis URL "${redactRedisUrl(whole)}" has no host`);
  return u;
}

function hostPort(s: string, whole: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535))
    throw new Error(`redis URL "${redactRedisUrl(whole)}": "${s}" is not host[:port]`);
  return { host: unbracket(m[1]!), port: Number(m[2] ?? 6379) };
}

function unbracket(h: string): string {
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

function splitUserinfo(info: string | undefined): [string | undefined, string | undefined] {
  if (!info) return [undefined, undefined];
  const i = info.indexOf(":");
  if (i < 0) return [decodeURIComponent(info) || undefined, undefined];
  return [
    decodeURIComponent(info.slice(0, i)) || undefined,
    decodeURIComponent(info.slice(i + 1)) || undefined,
  ];
}
