/** The impairer's decisions, with time passed in: no sockets, no timers. */
import { describe, expect, it } from "vitest";
import { burstLoss, GilbertElliott } from "../../media/impair/gilbert-elliott.ts";
import { Link } from "../../media/impair/link.ts";
import { Prng } from "../../media/impair/prng.ts";
import { CLEAN, type Profile, parseProfile } from "../../media/impair/profile.ts";
import { Schedule } from "../../media/impair/schedule.ts";
import { TokenBucket } from "../../media/impair/token-bucket.ts";

const profile = (p: Partial<Profile>): Profile => ({ ...CLEAN, ...p });

/** Sends `n` datagrams 20 ms apart through `link`; per datagram its departures (empty: dropped). */
function run(link: Link, n: number, bytes = 100, every = 20): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const copies = link.pass(i * every, bytes);
    out.push(link.departures.slice(0, copies));
  }
  return out;
}

describe("Prng", () => {
  it("repeats itself for a seed, differs across seeds, stays in [0, 1)", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(new Prng(1).chance(0)).toBe(false);
  });
});

describe("Gilbert–Elliott bursty loss", () => {
  it("loses the mean share, in bursts of the mean length", () => {
    const ge = new GilbertElliott(burstLoss(0.05, 4), new Prng(7));
    let lost = 0;
    let bursts = 0;
    let prev = false;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const l = ge.lose();
      if (l) lost++;
      if (l && !prev) bursts++;
      prev = l;
    }
    expect(lost / n).toBeGreaterThan(0.045);
    expect(lost / n).toBeLessThan(0.055);
    expect(lost / bursts).toBeGreaterThan(3.5);
    expect(lost / bursts).toBeLessThan(4.5);
  });

  it("refuses impossible parameters", () => {
    expect(() => burstLoss(1, 4)).toThrow(/\[0, 1\)/);
    expect(() => burstLoss(0.05, 0.5)).toThrow(/at least 1/);
  });
});

describe("TokenBucket", () => {
  it("passes a burst at once, then paces, and drops when the queue would wait too long", () => {
    const b = new TokenBucket({ bytesPerSecond: 10_000, burstBytes: 1000, queueMs: 100 });
    expect(b.admit(0, 500)).toBe(0);
    expect(b.admit(0, 500)).toBe(0);
    // empty: 500 bytes more take 50 ms at 10 kB/s
    expect(b.admit(0, 500)).toBe(50);
    expect(b.admit(0, 500)).toBe(100);
    // a third would wait 150 ms > 100: dropped, and books nothing
    expect(b.admit(0, 500)).toBe(-1);
    // 100 ms later 1000 bytes have refilled, which pays the two queued ones
    expect(b.admit(100, 500)).toBe(150);
  });

  it("refills no further than the burst", () => {
    const b = new TokenBucket({ bytesPerSecond: 1000, burstBytes: 200, queueMs: 0 });
    expect(b.admit(0, 200)).toBe(0);
    expect(b.admit(60_000, 200)).toBe(60_000);
    expect(b.admit(60_000, 1)).toBe(-1);
  });
});

describe("Link", () => {
  it("passes everything unchanged when clean", () => {
    const link = new Link(CLEAN, new Prng(1));
    const out = run(link, 100);
    expect(out.every((d, i) => d.length === 1 && d[0] === i * 20)).toBe(true);
    expect(link.stats.delivered).toBe(100);
  });

  it("drops the random-loss share and counts it", () => {
    const link = new Link(profile({ loss: 0.02 }), new Prng(3));
    const out = run(link, 50_000);
    const lost = out.filter((d) => d.length === 0).length;
    expect(lost).toBe(link.stats.drops.loss);
    expect(lost / 50_000).toBeGreaterThan(0.017);
    expect(lost / 50_000).toBeLessThan(0.023);
  });

  it("drops everything during a blackout, and nothing after", () => {
    const link = new Link(CLEAN, new Prng(1));
    link.blackout(1000);
    const out = run(link, 100); // 0..1980 ms
    expect(out.slice(0, 50).every((d) => d.length === 0)).toBe(true);
    expect(out.slice(50).every((d) => d.length === 1)).toBe(true);
    expect(link.stats.drops.blackout).toBe(50);
    expect(link.lastDrop).toBe("blackout");
    expect(link.inBlackout(999)).toBe(true);
    expect(link.inBlackout(1000)).toBe(false);
  });

  it("delays with jitter within bounds, never reordering", () => {
    const link = new Link(profile({ delayMs: 75, jitterMs: 30 }), new Prng(5));
    const out = run(link, 2000).map((d) => d[0]!);
    const delays = out.map((t, i) => t - i * 20);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(45);
    // order kept: a datagram may wait for the one before it, never leave before it
    for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(105);
    expect(new Set(delays.map(Math.round)).size).toBeGreaterThan(20);
  });

  it("reorders: a held-back datagram is overtaken by the next ones", () => {
    const link = new Link(profile({ reorder: 0.1, reorderMs: 50 }), new Prng(9));
    const out = run(link, 1000).map((d) => d[0]!);
    const held = out.map((t, i) => t - i * 20).filter((d) => d === 50).length;
    expect(held).toBe(link.stats.reordered);
    expect(held).toBeGreaterThan(60);
    let overtaken = 0;
    for (let i = 0; i + 1 < out.length; i++) if (out[i + 1]! < out[i]!) overtaken++;
    expect(overtaken).toBeGreaterThan(0);
  });

  it("duplicates: two copies at the same time", () => {
    const link = new Link(profile({ duplicate: 0.1 }), new Prng(11));
    const out = run(link, 1000);
    const twice = out.filter((d) => d.length === 2);
    expect(twice.length).toBe(link.stats.duplicated);
    expect(twice.length).toBeGreaterThan(60);
    expect(twice.every(([a, b]) => a === b)).toBe(true);
  });

  it("rate-limits: paces above the rate, drops past the queue", () => {
    // 40 kbit/s = 5000 B/s; 100 B every 10 ms = 10 kB/s: twice the rate
    const link = new Link(parseProfile("rate=40,queue=100,bucket=100"), new Prng(1));
    const out = run(link, 200, 100, 10);
    expect(link.stats.drops.rate).toBeGreaterThan(80);
    const sent = out.filter((d) => d.length === 1).map((d) => d[0]!);
    // what leaves leaves at no more than the rate: 100 B per 20 ms
    for (let i = 1; i < sent.length; i++) expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(19.999);
  });

  it("makes the same decisions for the same seed", () => {
    const p = parseProfile("wobbly");
    expect(run(new Link(p, new Prng(77)), 500)).toEqual(run(new Link(p, new Prng(77)), 500));
    expect(run(new Link(p, new Prng(77)), 500)).not.toEqual(run(new Link(p, new Prng(78)), 500));
  });

  it("a new profile applies from then on", () => {
    const link = new Link(CLEAN, new Prng(1));
    expect(run(link, 10).every((d) => d.length === 1)).toBe(true);
    link.setProfile(profile({ loss: 0.999999 }));
    expect(link.pass(1000, 100)).toBe(0);
    expect(link.current.loss).toBe(0.999999);
  });
});

describe("parseProfile", () => {
  it("reads names, specs and a name with overrides", () => {
    expect(parseProfile("")).toEqual(CLEAN);
    expect(parseProfile("clean")).toEqual(CLEAN);
    expect(parseProfile("loss2").loss).toBe(0.02);
    expect(parseProfile("loss=0.02").loss).toBe(0.02);
    const b = parseProfile("bursty5").burst!;
    expect(b.enter / (b.enter + b.leave)).toBeCloseTo(0.05, 10);
    expect(1 / b.leave).toBe(4);
    const r = parseProfile("rtt150,loss=1%");
    expect([r.delayMs, r.jitterMs, r.loss]).toEqual([75, 30, 0.01]);
    expect(parseProfile("reorder=5%:60")).toMatchObject({ reorder: 0.05, reorderMs: 60 });
    expect(parseProfile("rate=64,queue=50").rate).toEqual({
      bytesPerSecond: 8000,
      burstBytes: 3000,
      queueMs: 50,
    });
  });

  it("says what is wrong", () => {
    expect(() => parseProfile("lossy")).toThrow(/unknown profile "lossy"/);
    expect(() => parseProfile("loss=2%,rtt150")).toThrow(/must come first/);
    expect(() => parseProfile("loss=150%")).toThrow(/loss: a share/);
    expect(() => parseProfile("delay=-1")).toThrow(/delay: milliseconds/);
    expect(() => parseProfile("queue=10")).toThrow(/rate= first/);
    expect(() => parseProfile("color=red")).toThrow(/unknown profile key "color"/);
    expect(() => parseProfile("burst=5%:0")).toThrow(/burst:/);
  });
});

describe("Schedule", () => {
  it("yields by departure time, first in first out among equal times, only when due", () => {
    const s = new Schedule<string>();
    s.push(30, "c");
    s.push(10, "a1");
    s.push(20, "b");
    s.push(10, "a2");
    s.push(10, "a3");
    expect(s.nextAt()).toBe(10);
    expect(s.popDue(9)).toBeUndefined();
    const got: string[] = [];
    for (let x = s.popDue(25); x; x = s.popDue(25)) got.push(x);
    expect(got).toEqual(["a1", "a2", "a3", "b"]);
    expect(s.size).toBe(1);
    expect(s.popDue(30)).toBe("c");
    expect(s.nextAt()).toBeUndefined();
  });

  it("keeps heap order over many random pushes", () => {
    const s = new Schedule<number>();
    const prng = new Prng(2);
    const xs = Array.from({ length: 2000 }, () => Math.floor(prng.next() * 500));
    for (const x of xs) s.push(x, x);
    const out: number[] = [];
    for (let x = s.popDue(1e9); x !== undefined; x = s.popDue(1e9)) out.push(x);
    expect(out).toEqual([...xs].sort((a, b) => a - b));
  });
});
