/**
 * Flow recovery: a datagram (not a STUN Binding request) from a client this
 * relay has no flow for is looked up in the shared flow records, off the hot
 * path. The socket shell hands the datagram over and returns at once; the
 * lookup answers later and the shell rebuilds the flow (Steering.adopt) and
 * sends what was held.
 *
 * Bounded everywhere, since anyone can send such datagrams:
 *   - one lookup per client at a time; its next few datagrams wait with it (`hold`), the rest are dropped
 *   - at most `maxInFlight` lookups at once, and `perSecond` started per second
 *   - a miss (or an error) is remembered for `negativeMs`: that client's datagrams are dropped
 *     without a lookup until then (a STUN Binding request with a valid hint still opens a flow)
 */
import type { Endpoint } from "../../shared/hint.ts";
import type { FlowRecord, FlowRecords } from "./flow-store.ts";
import type { DropReason } from "./stats.ts";

export interface RecoveryOptions {
  /** Lookups in flight at once; default 256. */
  maxInFlight: number;
  /** Lookups started per second at most; default 5000. */
  perSecond: number;
  /** How long a miss is remembered, ms; default 1500. */
  negativeMs: number;
  /** Datagrams held per client while its lookup runs; default 8. */
  hold: number;
}

export const DEFAULT_RECOVERY: RecoveryOptions = {
  maxInFlight: 256,
  perSecond: 5000,
  negativeMs: 1500,
  hold: 8,
};

/** A lookup in flight: the client, the ingress it came through (cluster relay behind ingresses), what waits. */
export interface PendingLookup {
  address: string;
  port: number;
  ingress: Endpoint | undefined;
  held: Buffer[];
  startedAt: number;
}

export interface RecoveryHooks {
  /** The lookup found a record: rebuild the flow and send the held datagrams. */
  found(p: PendingLookup, rec: FlowRecord): void;
  /** Counts a datagram dropped here. */
  drop(reason: DropReason, n: number): void;
}

const MAX_NEGATIVE = 65_536;

export class FlowRecovery {
  readonly options: RecoveryOptions;
  private readonly records: FlowRecords;
  private readonly hooks: RecoveryHooks;
  private readonly pending = new Map<number | string, PendingLookup>();
  private readonly negative = new Map<number | string, number>();
  private tokens: number;
  private refilledAt = 0;
  /** Lookups answered, and how long they took (ms), for the stats. */
  answered = 0;
  answerMsTotal = 0;

  constructor(records: FlowRecords, hooks: RecoveryHooks, o: Partial<RecoveryOptions> = {}) {
    this.records = records;
    this.hooks = hooks;
    this.options = { ...DEFAULT_RECOVERY, ...o };
    this.tokens = this.options.perSecond;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * A datagram of a client without a flow. `key` is its table key (IPv4
   * number or IPv6 string). Never throws, never waits.
   */
  request(
    key: number | string,
    address: string,
    port: number,
    ingress: Endpoint | undefined,
    datagram: Uint8Array,
    now: number,
  ): void {
    const p = this.pending.get(key);
    if (p) {
      if (p.held.length < this.options.hold) p.held.push(Buffer.from(datagram));
      else this.hooks.drop("recovering", 1);
      return;
    }
    const until = this.negative.get(key);
    if (until !== undefined) {
      if (now < until) {
        this.hooks.drop("not-stun", 1);
        return;
      }
      this.negative.delete(key);
    }
    if (this.pending.size >= this.options.maxInFlight || !this.take(now)) {
      this.hooks.drop("lookup-busy", 1);
      return;
    }
    if (!this.records.up) {
      this.records.countUnavailable();
      this.remember(key, now);
      this.hooks.drop("not-stun", 1);
      return;
    }
    const lookup: PendingLookup = { address, port, ingress, held: [Buffer.from(datagram)], startedAt: now };
    this.pending.set(key, lookup);
    this.records.lookup(address, port).then(
      (rec) => this.answer(key, lookup, rec),
      () => this.answer(key, lookup, undefined),
    );
  }

  private answer(key: number | string, p: PendingLookup, rec: FlowRecord | undefined): void {
    this.pending.delete(key);
    const now = Date.now();
    this.answered++;
    this.answerMsTotal += now - p.startedAt;
    if (!rec) {
      this.remember(key, now);
      this.hooks.drop("not-stun", p.held.length);
      return;
    }
    this.hooks.found(p, rec);
  }

  /** Drops expired negative entries; run by the sweep timer. */
  sweep(now: number): void {
    for (const [k, until] of this.negative) if (until <= now) this.negative.delete(k);
  }

  private remember(key: number | string, now: number): void {
    if (this.negative.size >= MAX_NEGATIVE) this.negative.clear();
    this.negative.set(key, now + this.options.negativeMs);
  }

  private take(now: number): boolean {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.options.perSecond, this.tokens + (elapsed * this.options.perSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
