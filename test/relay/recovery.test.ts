/**
 * Flow records, recovery and recording without Redis: a fake key-value store
 * whose answers the test releases, so every bound (one lookup per client,
 * held datagrams, in-flight and rate limits, the negative cache) is checked
 * deterministically. Redis itself: redis.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Flow } from "../../media/relay/flow.ts";
import {
  decodeFlowRecord,
  encodeFlowRecord,
  type FlowKv,
  type FlowRecord,
  FlowRecords,
} from "../../media/relay/flow-store.ts";
import { FlowTable } from "../../media/relay/flow-table.ts";
import { FlowRecorder } from "../../media/relay/recorder.ts";
import { FlowRecovery, type PendingLookup } from "../../media/relay/recovery.ts";
import type { DropReason } from "../../media/relay/stats.ts";
import { createLogger } from "../../media/runtime/log.ts";
import { encapKeys, rtp } from "../support/relay-fixtures.ts";

/** A key-value store in memory whose gets wait until released (or fail, or answer at once). */
class FakeKv implements FlowKv {
  up = true;
  onUp: (() => void) | undefined;
  readonly data = new Map<string, { value: string; ttlMs: number }>();
  readonly gets: string[] = [];
  readonly sets: string[] = [];
  auto = true;
  failSets = false;
  /** Sets wait for answerSet() (a store slower than the relay). */
  holdSets = false;
  private readonly waiting: (() => void)[] = [];
  private readonly heldSets: (() => void)[] = [];

  whenReady() {
    return Promise.resolve(this.up);
  }
  get(key: string): Promise<string | null> {
    this.gets.push(key);
    const answer = () => this.data.get(key)?.value ?? null;
    if (this.auto) return Promise.resolve(answer());
    return new Promise((resolve) => this.waiting.push(() => resolve(answer())));
  }
  set(key: string, value: string, ttlMs: number): Promise<unknown> {
    this.sets.push(key);
    if (this.failSets) return Promise.reject(new Error("boom"));
    if (this.holdSets)
      return new Promise((resolve) =>
        this.heldSets.push(() => {
          this.data.set(key, { value, ttlMs });
          resolve("OK");
        }),
      );
    this.data.set(key, { value, ttlMs });
    return Promise.resolve("OK");
  }
  del(key: string): Promise<unknown> {
    this.data.delete(key);
    return Promise.resolve(1);
  }
  /** Answers one held set. */
  answerSet() {
    this.heldSets.shift()?.();
  }
  release() {
    for (const w of this.waiting.splice(0)) w();
  }
  async close() {}
}

const log = createLogger("test");
const C = "203.0.113.5";
const record: FlowRecord = {
  cluster: 3,
  target: { address: "10.0.0.9", port: 40000 },
  hop: { address: "10.0.0.7", port: 3479 },
  ufrag: "AQIDBAUGBwgJ+/",
  verified: true,
};

function setup(o: { hold?: number; maxInFlight?: number; perSecond?: number } = {}) {
  const kv = new FakeKv();
  const records = new FlowRecords({ kv, id: "ingress-test", prefix: "t:", ttlMs: 60_000, log });
  const found: { p: PendingLookup; rec: FlowRecord }[] = [];
  const drops: Partial<Record<DropReason, number>> = {};
  const recovery = new FlowRecovery(
    records,
    {
      found: (p, rec) => found.push({ p, rec }),
      drop: (reason, n) => {
        drops[reason] = (drops[reason] ?? 0) + n;
      },
    },
    { negativeMs: 1000, ...o },
  );
  return { kv, records, recovery, found, drops };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("flow records", () => {
  it("round-trip through their JSON form and refuse anything else", () => {
    const s = encodeFlowRecord(record);
    expect(JSON.parse(s)).toEqual({
      c: 3,
      t: "10.0.0.9:40000",
      h: "10.0.0.7:3479",
      u: "AQIDBAUGBwgJ+/",
      v: 1,
    });
    expect(decodeFlowRecord(s)).toEqual(record);
    expect(
      decodeFlowRecord(encodeFlowRecord({ ...record, target: { address: "fd00::9", port: 1 } }))?.target,
    ).toEqual({ address: "fd00::9", port: 1 });
    for (const bad of [
      "",
      "nope",
      "null",
      "[]",
      JSON.stringify({ c: 70000, t: "10.0.0.9:1", h: "10.0.0.7:1", u: "a", v: 1 }),
      JSON.stringify({ c: 1, t: "host:1", h: "10.0.0.7:1", u: "a", v: 1 }),
      JSON.stringify({ c: 1, t: "10.0.0.9:1", h: "10.0.0.7:1", u: "a:b", v: 1 }),
      JSON.stringify({ c: 1, t: "10.0.0.9:1", h: "10.0.0.7:1", v: 1 }),
    ])
      expect(decodeFlowRecord(bad), bad).toBeUndefined();
  });

  it("are keyed by prefix, relay id and client (IPv4-mapped written as IPv4)", () => {
    const { records } = setup();
    expect(records.key(C, 5000)).toBe("t:ingress-test:203.0.113.5:5000");
    expect(records.key(`::ffff:${C}`, 5000)).toBe("t:ingress-test:203.0.113.5:5000");
    expect(records.key("2001:db8::1", 5000)).toBe("t:ingress-test:[2001:db8::1]:5000");
    expect(() => new FlowRecords({ kv: new FakeKv(), id: "a b", ttlMs: 1, log })).toThrow("flow record id");
  });

  it("count hits, misses and records that are not records", async () => {
    const { kv, records } = setup();
    kv.data.set(records.key(C, 1), { value: encodeFlowRecord(record), ttlMs: 1 });
    kv.data.set(records.key(C, 2), { value: "garbage", ttlMs: 1 });
    expect(await records.lookup(C, 1)).toEqual(record);
    expect(await records.lookup(C, 2)).toBeUndefined();
    expect(await records.lookup(C, 3)).toBeUndefined();
    expect(records.stats).toMatchObject({ lookups: 3, hits: 1, misses: 1, errors: 1 });
  });
});

describe("recovery", () => {
  it("looks a client up once, holds its next datagrams, and hands them over with the record", async () => {
    const { kv, records, recovery, found, drops } = setup({ hold: 3 });
    kv.auto = false;
    kv.data.set(records.key(C, 5000), { value: encodeFlowRecord(record), ttlMs: 1 });
    for (let i = 0; i < 5; i++) recovery.request(1, C, 5000, undefined, rtp(60, i), 10);
    expect(kv.gets).toHaveLength(1);
    expect(recovery.inFlight).toBe(1);
    expect(drops.recovering).toBe(2);
    kv.release();
    await settle();
    expect(found).toHaveLength(1);
    expect(found[0]!.rec).toEqual(record);
    expect(found[0]!.p.held.map((b) => b[2])).toEqual([0, 1, 2]);
    expect(recovery.inFlight).toBe(0);
  });

  it("remembers a miss for negativeMs: no lookup, datagrams dropped as not-stun, then asks again", async () => {
    const { kv, recovery, found, drops } = setup();
    recovery.request(1, C, 5000, undefined, rtp(), 10);
    await settle();
    expect(found).toHaveLength(0);
    expect(drops["not-stun"]).toBe(1);
    recovery.request(1, C, 5000, undefined, rtp(), 500);
    recovery.request(1, C, 5000, undefined, rtp(), Date.now() + 900);
    expect(kv.gets).toHaveLength(1);
    expect(drops["not-stun"]).toBe(3);
    recovery.request(1, C, 5000, undefined, rtp(), Date.now() + 1100);
    expect(kv.gets).toHaveLength(2);
  });

  it("bounds lookups in flight and per second", async () => {
    const a = setup({ maxInFlight: 4 });
    a.kv.auto = false;
    for (let port = 1; port <= 10; port++) a.recovery.request(port, C, port, undefined, rtp(), 10);
    expect(a.kv.gets).toHaveLength(4);
    expect(a.drops["lookup-busy"]).toBe(6);
    a.kv.release();
    await settle();

    const b = setup({ perSecond: 5 });
    for (let port = 1; port <= 10; port++) b.recovery.request(port, C, port, undefined, rtp(), 1000);
    expect(b.kv.gets).toHaveLength(5);
    expect(b.drops["lookup-busy"]).toBe(5);
    b.recovery.request(11, C, 11, undefined, rtp(), 1400); // 0.4 s later: 2 more tokens
    b.recovery.request(12, C, 12, undefined, rtp(), 1400);
    b.recovery.request(13, C, 13, undefined, rtp(), 1400);
    expect(b.kv.gets).toHaveLength(7);
  });

  it("does not ask a store that is down: counted as an error, remembered like a miss", () => {
    const { kv, records, recovery, drops } = setup();
    kv.up = false;
    recovery.request(1, C, 5000, undefined, rtp(), 10);
    recovery.request(1, C, 5000, undefined, rtp(), 11);
    expect(kv.gets).toHaveLength(0);
    expect(records.stats).toMatchObject({ lookups: 1, errors: 1 });
    expect(drops["not-stun"]).toBe(2);
  });
});

describe("recording", () => {
  function flow(table: FlowTable, port: number, now = 1) {
    const f = new Flow({
      address: C,
      port,
      key: -1,
      cluster: 3,
      hop: record.hop,
      target: record.target,
      ufrag: Buffer.from(record.ufrag),
      now,
      encap: encapKeys,
    });
    table.add(f);
    return f;
  }

  it("writes marked flows once, on the next turn, with TTL 2x idle", async () => {
    const { kv, records } = setup();
    const table = new FlowTable(10);
    const rec = new FlowRecorder(records, table);
    const f = flow(table, 5000);
    rec.mark(f);
    rec.mark(f);
    expect(kv.sets).toHaveLength(0);
    await settle();
    expect(kv.sets).toEqual([records.key(C, 5000)]);
    const stored = kv.data.get(records.key(C, 5000))!;
    expect(stored.ttlMs).toBe(60_000);
    expect(decodeFlowRecord(stored.value)).toMatchObject({
      cluster: 3,
      ufrag: record.ufrag,
      verified: false,
    });
    // A flow gone from the table before the flush is not written.
    const g = flow(table, 5001);
    rec.mark(g);
    table.delete(g);
    await settle();
    expect(kv.sets).toHaveLength(1);
  });

  it("settle: resolves once every write sent is answered, or at its deadline", async () => {
    const { kv, records } = setup();
    const table = new FlowTable(10);
    await records.settled(10); // nothing in flight: at once
    kv.holdSets = true;
    records.write(flow(table, 5000), 1);
    records.write(flow(table, 5001), 1);
    let settled = false;
    const done = records.settled(60_000).then(() => {
      settled = true;
    });
    kv.answerSet();
    await settle();
    expect(settled).toBe(false); // one write still unanswered
    kv.answerSet();
    await done;
    expect(kv.data.size).toBe(2);
    records.write(flow(table, 5002), 1);
    const t0 = Date.now();
    await records.settled(30); // never answered: the deadline ends the wait
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(kv.data.size).toBe(2);
  });

  it("refreshes active flows whose record is older than TTL/2, and retries failed writes", async () => {
    const { kv, records } = setup();
    const table = new FlowTable(10);
    const rec = new FlowRecorder(records, table);
    const f = flow(table, 5000);
    records.write(f, 1000);
    await settle();
    f.lastSeen = 20_000;
    rec.refresh(20_000); // record 19 s old: not due (TTL 60 s)
    expect(kv.sets).toHaveLength(1);
    rec.refresh(31_000);
    expect(kv.sets).toHaveLength(2);
    expect(f.recordedAt).toBe(31_000);
    rec.refresh(62_000); // idle since its last write: left to expire
    expect(kv.sets).toHaveLength(2);
    kv.failSets = true;
    f.lastSeen = 70_000;
    rec.refresh(70_000);
    await settle();
    expect(f.recordedAt).toBe(0);
    expect(records.stats.writeErrors).toBe(1);
    kv.failSets = false;
    f.lastSeen = 70_001;
    rec.refresh(70_001);
    await settle();
    expect(kv.sets).toHaveLength(4);
    expect(f.recordedAt).toBe(70_001);
  });

  it("skips writes while the store is down and rewrites every flow when it is back", async () => {
    const { kv, records } = setup();
    const table = new FlowTable(10);
    const rec = new FlowRecorder(records, table);
    kv.up = false;
    const flows = [flow(table, 1), flow(table, 2), flow(table, 3)];
    for (const f of flows) rec.mark(f);
    await settle();
    expect(kv.sets).toHaveLength(0);
    expect(records.stats.writesSkipped).toBe(3);
    kv.up = true;
    rec.resync();
    expect(kv.data.size).toBe(3);
  });
});
