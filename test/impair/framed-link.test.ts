/** The TCP mode's frame-level decisions, without sockets: whole frames dropped or delayed, framing intact. */
import { describe, expect, it } from "vitest";
import { FramedLink, tcpProfile } from "../../media/impair/framed-link.ts";
import { Link } from "../../media/impair/link.ts";
import { Prng } from "../../media/impair/prng.ts";
import { CLEAN, parseProfile } from "../../media/impair/profile.ts";
import { encodeFrame, FrameDecoder } from "../../media/wire/tcp-frame.ts";

const frame = (i: number, size = 20): Buffer => {
  const payload = Buffer.alloc(size, i & 0xff);
  payload.writeUInt16BE(i, 0);
  const out = Buffer.alloc(size + 2);
  encodeFrame(out, payload, 0, size);
  return out;
};

/** Feeds `stream` in chunks of `chunk` bytes at time `now`; returns the departures. */
function feed(f: FramedLink, stream: Buffer, chunk: number, now = 0) {
  const out: { at: number; frame: Buffer }[] = [];
  for (let p = 0; p < stream.length; p += chunk)
    expect(
      f.push(now, stream.subarray(p, p + chunk), (at, fr) => out.push({ at, frame: fr })),
    ).toBeUndefined();
  return out;
}

/** The frame numbers in a byte stream, decoding it strictly. */
function numbers(bytes: Buffer): number[] {
  const got: number[] = [];
  const d = new FrameDecoder(65535);
  expect(d.push(bytes, 0, (b, off) => got.push(b.readUInt16BE(off)) > 0)).toBeUndefined();
  expect(d.pending).toBe(0);
  return got;
}

describe("FramedLink", () => {
  it("passes frames split over reads and merged in one, unchanged, in order", () => {
    const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => frame(i, 10 + i)));
    for (const chunk of [1, 3, 7, 64, stream.length]) {
      const out = feed(new FramedLink(new Link(CLEAN, new Prng(1))), stream, chunk);
      expect(Buffer.concat(out.map((o) => o.frame)).equals(stream)).toBe(true);
    }
  });

  it("drops whole frames under loss: what leaves still decodes, a subset in order", () => {
    const link = new Link(parseProfile("loss=30%"), new Prng(7));
    const stream = Buffer.concat(Array.from({ length: 400 }, (_, i) => frame(i)));
    const out = feed(new FramedLink(link), stream, 13);
    const got = numbers(Buffer.concat(out.map((o) => o.frame)));
    expect(got.length).toBe(400 - link.stats.drops.loss);
    expect(link.stats.drops.loss).toBeGreaterThan(60);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(new Set(got).size).toBe(got.length);
  });

  it("delays with jitter yet keeps order, even if the profile asks for reordering", () => {
    const link = new Link(tcpProfile(parseProfile("delay=50,jitter=30,reorder=20%")), new Prng(3));
    const f = new FramedLink(link);
    const out: number[] = [];
    for (let i = 0; i < 200; i++) f.push(i * 2, frame(i), (at) => out.push(at));
    expect(out.length).toBe(200);
    for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]!);
    expect(out[0]!).toBeGreaterThanOrEqual(20);
    expect(link.stats.reordered).toBe(0);
  });

  it("drops every frame arriving in a blackout, and passes them after it", () => {
    const link = new Link(CLEAN, new Prng(1));
    link.blackout(100);
    const f = new FramedLink(link);
    expect(feed(f, frame(1), 5, 50)).toEqual([]);
    expect(link.stats.drops.blackout).toBe(1);
    expect(numbers(Buffer.concat(feed(f, frame(2), 5, 100).map((o) => o.frame)))).toEqual([2]);
  });

  it("reports a zero-length or oversize frame (the shell closes the connection)", () => {
    const f = new FramedLink(new Link(CLEAN, new Prng(1)), 100);
    expect(f.push(0, Buffer.from([0, 0]), () => {})).toBe("empty-frame");
    const g = new FramedLink(new Link(CLEAN, new Prng(1)), 100);
    expect(g.push(0, Buffer.from([0, 200]), () => {})).toBe("oversize");
  });
});
