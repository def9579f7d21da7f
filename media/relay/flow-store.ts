/**
 * Shared flow records: what a relay that has never seen a client needs to
 * forward its datagrams at once, without waiting for its next STUN check.
 *
 *   key     <prefix><id>:<client ip:port>      e.g. ve:flow:cluster-2:203.0.113.7:53211
 *   value   {"c":2,"t":"10.2.0.9:40000","h":"10.2.0.9:40000","u":"<server ufrag>","v":1}
 *           cluster, the hint's transceiver, the next hop, the ufrag, verified
 *   TTL     2 x the idle timeout, rewritten lazily by the sweep (never per packet)
 *
 * The id names one logical relay: every worker and every replacement instance
 * of it shares the id (and so the records); another relay uses another id.
 * The store behind is a key-value interface (redis.ts: standalone or Cluster).
 * Nothing here runs per packet.
 */
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint, parseEndpoint } from "../../shared/ip.ts";
import type { Logger } from "../runtime/log.ts";
import { type Flow, v4Part } from "./flow.ts";
import type { RecoveredFlow } from "./steering.ts";

export const DEFAULT_FLOW_PREFIX = "ve:flow:";

/** The key-value operations the records need; RedisKv implements them over ioredis. */
export interface FlowKv {
  /** Connected and ready; commands fail fast while false. */
  readonly up: boolean;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
  /** Called each time the connection becomes ready again after an outage. */
  onUp: (() => void) | undefined;
  /** Resolves true once connected, false after timeoutMs. */
  whenReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface FlowRecord extends RecoveredFlow {
  hop: Endpoint;
}

export function encodeFlowRecord(r: FlowRecord): string {
  return JSON.stringify({
    c: r.cluster,
    t: formatEndpoint(r.target),
    h: formatEndpoint(r.hop),
    u: r.ufrag,
    v: r.verified ? 1 : 0,
  });
}

/** The record in `s`, or undefined when it is not one (treated as a miss). */
export function decodeFlowRecord(s: string): FlowRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null) return undefined;
  const { c, t, h, u, v } = o as Record<string, unknown>;
  if (typeof c !== "number" || !Number.isInteger(c) || c < 0 || c > 65535) return undefined;
  if (typeof t !== "string" || typeof h !== "string" || typeof u !== "string") return undefined;
  if (u.length === 0 || u.length > 256 || !/^[A-Za-z0-9+/]+$/.test(u)) return undefined;
  const target = parseEndpoint(t);
  const hop = parseEndpoint(h);
  if (!target || !hop) return undefined;
  return { cluster: c, target, hop, ufrag: u, verified: v === 1 };
}

export interface FlowStoreStats {
  lookups: number;
  hits: number;
  misses: number;
  /** Lookups that failed: Redis down, timed out, or answered with something that is not a record. */
  errors: number;
  writes: number;
  writeErrors: number;
  /** Writes not attempted: Redis down or too many in flight (the flow is written again later). */
  writesSkipped: number;
  /** Records deleted because their flow ended. */
  deletes: number;
}

export interface FlowRecordsOptions {
  kv: FlowKv;
  /** Names the logical relay the records belong to. */
  id: string;
  prefix?: string;
  ttlMs: number;
  log: Logger;
  /** Writes in flight beyond which new ones are skipped (and retried by the sweep). */
  maxWritesInFlight?: number;
}

const WARN_EVERY_MS = 10_000;
const latin1 = new TextDecoder("latin1");

export function zeroFlowStoreStats(): FlowStoreStats {
  return {
    lookups: 0,
    hits: 0,
    misses: 0,
    errors: 0,
    writes: 0,
    writeErrors: 0,
    writesSkipped: 0,
    deletes: 0,
  };
}

export class FlowRecords {
  readonly kv: FlowKv;
  readonly id: string;
  readonly prefix: string;
  readonly ttlMs: number;
  readonly stats: FlowStoreStats = zeroFlowStoreStats();
  private readonly log: Logger;
  private readonly maxWritesInFlight: number;
  private writesInFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private lastWarn = 0;
  private failuresSinceWarn = 0;

  constructor(o: FlowRecordsOptions) {
    if (!/^[A-Za-z0-9_.:[\]-]+$/.test(o.id))
      throw new Error(`flow record id "${o.id}" has characters keys should not`);
    this.kv = o.kv;
    this.id = o.id;
    this.prefix = o.prefix ?? DEFAULT_FLOW_PREFIX;
    this.ttlMs = o.ttlMs;
    this.log = o.log;
    this.maxWritesInFlight = o.maxWritesInFlight ?? 4096;
  }

  get up(): boolean {
    return this.kv.up;
  }

  key(address: string, port: number): string {
    return `${this.prefix}${this.id}:${formatEndpoint({ address: v4Part(address), port })}`;
  }

  /** The record of a client, undefined on a miss; rejects (counted) when the store fails. */
  async lookup(address: string, port: number): Promise<FlowRecord | undefined> {
    this.stats.lookups++;
    let raw: string | null;
    try {
      raw = await this.kv.get(this.key(address, port));
    } catch (err) {
      this.stats.errors++;
      this.failed("lookup", err);
      throw err;
    }
    if (raw === null) {
      this.stats.misses++;
      return undefined;
    }
    const rec = decodeFlowRecord(raw);
    if (!rec) {
      this.stats.errors++;
      this.failed("lookup", new Error("not a flow record"));
      return undefined;
    }
    this.stats.hits++;
    return rec;
  }

  /** A lookup that was not even tried (store down, or a lookup budget spent). */
  countUnavailable(): void {
    this.stats.lookups++;
    this.stats.errors++;
  }

  /** Writes (or rewrites) the record of a flow, without waiting; flow.recordedAt tells the sweep how old it is. */
  write(flow: Flow, now: number): void {
    if (!this.kv.up || this.writesInFlight >= this.maxWritesInFlight) {
      this.stats.writesSkipped++;
      flow.recordedAt = 0;
      return;
    }
    this.writesInFlight++;
    this.stats.writes++;
    flow.recordedAt = now;
    const value = encodeFlowRecord({
      cluster: flow.cluster,
      target: flow.target,
      hop: flow.hop,
      ufrag: latin1.decode(flow.ufrag),
      verified: flow.budget.verified,
    });
    this.kv.set(this.key(flow.address, flow.port), value, this.ttlMs).then(
      () => {
        this.writeDone();
      },
      (err: unknown) => {
        this.writeDone();
        this.stats.writeErrors++;
        if (flow.recordedAt === now) flow.recordedAt = 0;
        this.failed("write", err);
      },
    );
  }

  /** Deletes the record of a flow that ended (best effort: a record left behind expires with its TTL). */
  forget(flow: Flow): void {
    if (!this.kv.up) return;
    this.stats.deletes++;
    this.kv.del(this.key(flow.address, flow.port)).catch((err: unknown) => this.failed("delete", err));
  }

  /**
   * Resolves once every write sent so far is answered (or after timeoutMs).
   * A close must wait for it: the store's QUIT would otherwise overtake
   * writes still queued in the client (ioredis auto-pipelining), and a
   * replacement relay would miss the last flows' records.
   */
  settled(timeoutMs: number): Promise<void> {
    if (this.writesInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  private writeDone(): void {
    if (--this.writesInFlight > 0 || this.idleWaiters.length === 0) return;
    for (const done of this.idleWaiters.splice(0)) done();
  }

  /** A warning now and then while Redis fails, with how many failures it stands for. */
  private failed(op: string, err: unknown): void {
    this.failuresSinceWarn++;
    const now = Date.now();
    if (now - this.lastWarn < WARN_EVERY_MS) return;
    this.log.warn(
      { op, failures: this.failuresSinceWarn, err: err instanceof Error ? err.message : String(err) },
      "flow records: redis failing (known flows go on; new ones open from STUN)",
    );
    this.lastWarn = now;
    this.failuresSinceWarn = 0;
  }
}
