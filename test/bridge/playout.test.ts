import { describe, expect, it } from "vitest";
import { InputTimeline } from "../../media/transceiver/bridge/input.ts";
import { type PacedStream, Pacer, type PacerClock } from "../../media/transceiver/bridge/pacer.ts";
import { Playout } from "../../media/transceiver/bridge/playout.ts";

const FRAME = 960; // bytes of 20 ms at 24 kHz
const pcm = (frames: number, fill = 1) => Buffer.alloc(frames * FRAME, fill);

/** Ticks the playout from `from` for `n` ticks; returns what each tick sent and emitted. */
function run(p: Playout, from: number, n: number) {
  const out = [];
  for (let t = from; t < from + n; t++) out.push({ t, ...p.tick(t) });
  return out;
}

describe("playout: 20 ms frames with RTP sequence, timestamps and marker", () => {
  it("cuts any chunk sizes into frames and sends one per tick, contiguous, marker on the first", () => {
    const p = new Playout();
    p.begin("r1");
    p.push(pcm(1).subarray(0, 500));
    p.push(Buffer.concat([pcm(1).subarray(500), pcm(2)]));
    p.finish("r1");
    const ticks = run(p, 10, 5);
    const sent = ticks.filter((t) => t.sent).map((t) => t.sent!);
    expect(sent).toHaveLength(3);
    expect(sent.map((s) => s.marker)).toEqual([true, false, false]);
    expect(sent[1]!.timestamp - sent[0]!.timestamp).toBe(960);
    expect(sent[2]!.timestamp - sent[1]!.timestamp).toBe(960);
    expect(sent[1]!.sequence - sent[0]!.sequence).toBe(1);
    const events = ticks.flatMap((t) => t.events);
    expect(events).toEqual([
      { type: "output_audio_buffer.started", response_id: "r1" },
      { type: "output_audio_buffer.stopped", response_id: "r1", played_ms: 60 },
    ]);
    // stopped comes on the first tick with nothing left, since the response is done.
    expect(ticks[3]!.events[0]!.type).toBe("output_audio_buffer.stopped");
  });

  it("pads the last partial frame of a finished response", () => {
    const p = new Playout();
    p.begin("r");
    p.push(pcm(1).subarray(0, 100));
    expect(p.queuedFrames).toBe(0);
    p.finish("r");
    expect(p.queuedFrames).toBe(1);
    const f = p.tick(0).sent!.frame.pcm;
    expect(f.length).toBe(FRAME);
    expect(f.subarray(100).every((b) => b === 0)).toBe(true);
  });

  it("a pause is a new talk spurt: marker, and a timestamp that counts the silent ticks", () => {
    const p = new Playout({ underrunStopMs: 1000 });
    p.push(pcm(2));
    const a = run(p, 0, 2).map((t) => t.sent!);
    run(p, 2, 5); // five ticks with nothing to send (an underrun, response not done)
    p.push(pcm(1));
    const b = p.tick(7).sent!;
    expect(b.marker).toBe(true);
    expect(b.timestamp - a[1]!.timestamp).toBe(6 * 960);
    expect(b.sequence - a[1]!.sequence).toBe(1); // sequence counts packets, not time
  });

  it("ticks the process was too busy for do not break a spurt (no timestamp jump, no burst)", () => {
    const p = new Playout();
    p.push(pcm(3));
    const s0 = p.tick(0).sent!;
    const s1 = p.tick(3).sent!; // ticks 1 and 2 never ran
    expect(s1.marker).toBe(false);
    expect(s1.timestamp - s0.timestamp).toBe(960);
    expect(p.queuedFrames).toBe(1); // still one frame per tick
  });

  it("ends a spurt that underruns too long with stopped, even if the response is not done", () => {
    const p = new Playout({ underrunStopMs: 100 });
    p.begin("r");
    p.push(pcm(1));
    const events = run(p, 0, 8).flatMap((t) => t.events.map((e) => ({ t: t.t, type: e.type })));
    expect(events).toEqual([
      { t: 0, type: "output_audio_buffer.started" },
      { t: 5, type: "output_audio_buffer.stopped" },
    ]);
  });

  it("clear drops everything at once, reports what played, and drops the rest of that response", () => {
    const p = new Playout();
    p.begin("r1");
    p.push(pcm(50));
    run(p, 0, 10);
    expect(p.clear()).toEqual({ type: "output_audio_buffer.cleared", response_id: "r1", played_ms: 200 });
    expect(p.queuedFrames).toBe(0);
    expect(p.tick(10).sent).toBeUndefined();
    // The backend is still streaming r1: dropped.
    expect(p.push(pcm(5))).toBe(false);
    expect(p.queuedFrames).toBe(0);
    // A new response plays, as a new spurt with the marker bit.
    p.begin("r2");
    expect(p.push(pcm(2))).toBe(true);
    const t = p.tick(11);
    expect(t.sent!.marker).toBe(true);
    expect(t.events).toEqual([{ type: "output_audio_buffer.started", response_id: "r2" }]);
    expect(p.stats.framesCleared).toBe(40);
  });

  it("a response that follows another without a gap stops the first and starts the second", () => {
    const p = new Playout();
    p.begin("a");
    p.push(pcm(1));
    p.finish("a");
    p.begin("b");
    p.push(pcm(1));
    p.tick(0);
    expect(p.tick(1).events.map((e) => `${e.type}:${e.response_id}`)).toEqual([
      "output_audio_buffer.stopped:a",
      "output_audio_buffer.started:b",
    ]);
  });

  it("refuses audio beyond its queue limit", () => {
    const p = new Playout({ maxQueuedMs: 100 });
    expect(p.push(pcm(5))).toBe(true);
    expect(p.push(pcm(1))).toBe(false);
    expect(p.queuedFrames).toBe(5);
    expect(p.stats.bytesDropped).toBe(FRAME);
  });
});

/** A clock the test moves by hand; timers fire only when asked. */
function fakeClock() {
  let now = 1000;
  let pending: { fn: () => void; at: number } | undefined;
  const clock: PacerClock = {
    now: () => now,
    setTimer: (fn, ms) => {
      pending = { fn, at: now + ms };
      return pending;
    },
    clearTimer: () => {
      pending = undefined;
    },
  };
  return {
    clock,
    get pending() {
      return pending;
    },
    set now(t: number) {
      now = t;
    },
    /** Moves time to when the timer is due (plus `late` ms) and fires it. */
    fire(late = 0) {
      const p = pending!;
      pending = undefined;
      now = Math.max(now, p.at) + late;
      p.fn();
    },
  };
}

describe("pacer: one timer for every stream, on a 20 ms grid", () => {
  it("ticks every stream once per grid tick, sends before prepares, and sleeps with no streams", () => {
    const c = fakeClock();
    const pacer = new Pacer(c.clock);
    const log: string[] = [];
    const stream = (name: string): PacedStream => ({
      send: (t) => log.push(`${name}.send${t}`),
      prepare: (t) => log.push(`${name}.prep${t}`),
    });
    const a = stream("a");
    pacer.add(a);
    pacer.add(stream("b"));
    expect(c.pending!.at).toBe(1020);
    c.fire();
    expect(log).toEqual(["a.send1", "b.send1", "a.prep1", "b.prep1"]);
    expect(c.pending!.at).toBe(1040);
    pacer.delete(a);
    log.length = 0;
    c.fire();
    expect(log).toEqual(["b.send2", "b.prep2"]);
    pacer.delete([...(pacer as unknown as { streams: Set<PacedStream> }).streams][0]!);
    expect(pacer.running).toBe(false);
  });

  it("never makes up missed ticks (no bursts) and stays on the grid after a late timer", () => {
    const c = fakeClock();
    const pacer = new Pacer(c.clock);
    const sends: number[] = [];
    pacer.add({ send: (t) => sends.push(t), prepare: () => {} });
    c.fire(); // t=1020: tick 1
    c.fire(47); // due 1040, runs at 1087: ticks 2 and 3 passed; only tick 4 runs
    expect(sends).toEqual([1, 4]);
    expect(pacer.stats.skipped).toBe(2);
    expect(pacer.stats.maxLateMs).toBe(47); // behind the tick it was set for
    expect(c.pending!.at).toBe(1100); // back on the grid, not 1087 + 20
  });

  it("a stream that throws is dropped and every other stream keeps its ticks", () => {
    const c = fakeClock();
    const pacer = new Pacer(c.clock);
    const sends: number[] = [];
    const dropped: unknown[] = [];
    pacer.onError = (_s, err) => dropped.push(err);
    pacer.add({
      send: () => {
        throw new Error("boom");
      },
      prepare: () => {},
    });
    pacer.add({ send: (t) => sends.push(t), prepare: () => {} });
    c.fire();
    c.fire();
    expect(sends).toEqual([1, 2]);
    expect(pacer.stats.errors).toBe(1);
    expect(pacer.stats.streams).toBe(1);
    expect(String(dropped[0])).toContain("boom");
  });

  it("a timer that fires early runs nothing and re-arms for the due time", () => {
    const c = fakeClock();
    const pacer = new Pacer(c.clock);
    const sends: number[] = [];
    pacer.add({ send: (t) => sends.push(t), prepare: () => {} });
    const p = c.pending!;
    c.now = 1019.5;
    p.fn();
    expect(sends).toEqual([]);
    expect(c.pending!.at).toBe(1020.5); // ceil(0.5 ms): never early
    c.fire();
    expect(sends).toEqual([1]);
  });
});

describe("input timeline: a continuous 20 ms stream for backends", () => {
  it("drops duplicates and late packets, across the sequence wrap", () => {
    const t = new InputTimeline();
    expect(t.accept(65534)).toBe(true);
    t.onPacket(65534, 0, 0);
    expect(t.accept(65534)).toBe(false);
    expect(t.accept(65533)).toBe(false);
    expect(t.accept(65535)).toBe(true);
    t.onPacket(65535, 960, 20);
    expect(t.accept(0)).toBe(true);
    expect(t.stats.late).toBe(2);
  });

  it("fills a gap the timestamps show (loss, DTX), bounded", () => {
    const t = new InputTimeline({ maxGapFrames: 50 });
    t.onPacket(1, 1000, 0);
    expect(t.onPacket(2, 1000 + 960, 20)).toBe(0);
    expect(t.onPacket(5, 1000 + 4 * 960, 80)).toBe(2); // packets 3 and 4 lost
    expect(t.onPacket(6, 1000 + 4 * 960 + 960 * 1000, 100)).toBe(50); // a huge jump: at most 1 s
    // A 40 ms packet followed by the next: no gap.
    expect(t.onPacket(7, 1000 + 4 * 960 + 960 * 1001, 120, 2)).toBe(0);
    expect(t.onPacket(8, 1000 + 4 * 960 + 960 * 1003, 160)).toBe(0);
  });

  it("fills silence from the clock when nothing comes, and not twice when packets resume", () => {
    const t = new InputTimeline({ holdMs: 100 });
    expect(t.onTick(500)).toBe(0); // nothing before the first packet
    t.onPacket(1, 0, 1000);
    expect(t.onTick(1080)).toBe(0); // within the hold
    expect(t.onTick(1100)).toBe(5); // 100 ms of silence at once
    expect(t.onTick(1120)).toBe(1); // then one per tick
    expect(t.onTick(1130)).toBe(0);
    // The client resumes with timestamps that skipped 8 frames: 6 were filled already.
    expect(t.onPacket(2, 9 * 960, 1180)).toBe(2);
    expect(t.stats.filledFrames).toBe(8);
  });
});
