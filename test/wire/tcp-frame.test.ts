import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder } from "../../media/wire/tcp-frame.ts";

/** The RFC 4571 frame of each payload, concatenated. */
function framed(...payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.map((p) => {
      const out = Buffer.alloc(p.length + 2);
      encodeFrame(out, p, 0, p.length);
      return out;
    }),
  );
}

/** Feeds `chunks` to a decoder; the frames it hands over (copied) and its last result. */
function decode(d: FrameDecoder, chunks: Buffer[], now = 0) {
  const frames: Buffer[] = [];
  let error: string | undefined;
  for (const c of chunks) {
    error = d.push(c, now, (buf, off, len) => {
      frames.push(Buffer.from(buf.subarray(off, off + len)));
      return true;
    });
    if (error) break;
  }
  return { frames, error };
}

const a = Buffer.from("first frame");
const b = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
const c = Buffer.alloc(1500, 0x80);

describe("RFC 4571 frames", () => {
  it("encodes a 2-byte big-endian length, then the payload", () => {
    const out = Buffer.alloc(300);
    const n = encodeFrame(out, Buffer.alloc(258, 7), 0, 258);
    expect(n).toBe(260);
    expect([out[0], out[1], out[2], out[259]]).toEqual([1, 2, 7, 7]);
  });

  it("hands over one frame per chunk, several coalesced in one chunk, and each in order", () => {
    const d = new FrameDecoder(1500);
    expect(decode(d, [framed(a)]).frames).toEqual([a]);
    expect(decode(d, [framed(a, b, c)]).frames).toEqual([a, b, c]);
    expect(d.pending).toBe(0);
    expect(d.partialSince).toBe(-1);
  });

  it("a frame in the same chunk is a range of it, not a copy", () => {
    const d = new FrameDecoder(1500);
    const chunk = framed(a);
    let seen: Buffer | undefined;
    d.push(chunk, 0, (buf) => {
      seen = buf;
      return true;
    });
    expect(seen).toBe(chunk);
  });

  it("reassembles frames split anywhere, down to one byte per chunk (the length bytes too)", () => {
    const stream = framed(a, b, c);
    for (const size of [1, 2, 3, 7, 13, 1000]) {
      const d = new FrameDecoder(1500);
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      const r = decode(d, chunks);
      expect(r.error, `chunks of ${size}`).toBeUndefined();
      expect(r.frames, `chunks of ${size}`).toEqual([a, b, c]);
      expect(d.pending).toBe(0);
    }
  });

  it("a partial frame is held, with when it began, until its rest arrives", () => {
    const d = new FrameDecoder(1500);
    const stream = framed(a, b);
    const cut = 2 + a.length + 5; // a whole, b's length and 3 bytes of b
    expect(decode(d, [stream.subarray(0, cut)], 1000).frames).toEqual([a]);
    expect(d.pending).toBe(5);
    expect(d.partialSince).toBe(1000);
    expect(decode(d, [stream.subarray(cut)], 1500).frames).toEqual([b]);
    expect(d.pending).toBe(0);
    expect(d.partialSince).toBe(-1);
  });

  it("a single length byte is a partial frame too", () => {
    const d = new FrameDecoder(1500);
    expect(decode(d, [Buffer.from([0])], 7).frames).toEqual([]);
    expect(d.pending).toBe(1);
    expect(d.partialSince).toBe(7);
  });

  it("a zero length is an error, after the frames before it", () => {
    const d = new FrameDecoder(1500);
    const r = decode(d, [Buffer.concat([framed(a), Buffer.from([0, 0]), framed(b)])]);
    expect(r.frames).toEqual([a]);
    expect(r.error).toBe("empty-frame");
  });

  it("an oversize length is an error as soon as both length bytes are in, before its payload", () => {
    const d = new FrameDecoder(1500);
    expect(decode(d, [Buffer.from([0x05, 0xdd])]).error).toBe("oversize"); // 1501
    const split = new FrameDecoder(1500);
    expect(decode(split, [Buffer.from([0xff])]).error).toBeUndefined();
    expect(decode(split, [Buffer.from([0xff])]).error).toBe("oversize");
    // At the bound exactly: fine.
    expect(decode(new FrameDecoder(1500), [framed(c)]).frames).toEqual([c]);
  });

  it("stops when the frame handler says so (the connection is closing)", () => {
    const d = new FrameDecoder(1500);
    const frames: number[] = [];
    d.push(framed(a, b, c), 0, (_buf, _off, len) => {
      frames.push(len);
      return false;
    });
    expect(frames).toEqual([a.length]);
  });

  it("refuses a bound outside 1..65535", () => {
    expect(() => new FrameDecoder(0)).toThrow(/1\.\.65535/);
    expect(() => new FrameDecoder(65536)).toThrow(/1\.\.65535/);
  });
});
