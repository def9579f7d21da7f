/**
 * RFC 4571 framing, as ICE-TCP (RFC 6544) carries STUN, DTLS and SRTP over a
 * TCP connection: each packet preceded by its length, 2 bytes big-endian.
 *
 * The decoder is sans-IO: bytes in as the socket delivers them (a frame split
 * over reads, several frames in one read), whole frames out. A frame that lies
 * entirely in one chunk is handed over as a range of that chunk, without a
 * copy; only a frame split over reads is assembled in the decoder's own
 * buffer (allocated on first need, maxFrame + 2 bytes, reused). Zero-length
 * and oversize frames are errors: the caller closes the connection.
 */

export const FRAME_HEADER = 2;

export type FrameError = "empty-frame" | "oversize";

/**
 * Takes one frame at buf[off..off+len); false stops decoding (the caller is
 * closing the connection). The memory is only valid during the call.
 */
export type OnFrame = (buf: Buffer, off: number, len: number) => boolean;

export class FrameDecoder {
  readonly maxFrame: number;
  /** A split frame being assembled (length prefix included), allocated on first need. */
  private held: Buffer | undefined = undefined;
  /** Bytes of the split frame held so far (0: none). */
  private have = 0;
  /** Its whole size, prefix included, once both length bytes are in (else 0). */
  private need = 0;
  /** When the frame now held began to arrive (ms), or -1 when none is: what a slowloris bound reads. */
  partialSince = -1;

  constructor(maxFrame: number) {
    if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > 65535)
      throw new Error(`max frame ${maxFrame} is not 1..65535`);
    this.maxFrame = maxFrame;
  }

  /** Bytes of an incomplete frame held. */
  get pending(): number {
    return this.have;
  }

  /**
   * Decodes `chunk` (received at `now`, ms), handing each complete frame to
   * onFrame; returns an error as soon as a length is zero or over maxFrame
   * (frames before it were handed over), or undefined.
   */
  push(chunk: Buffer, now: number, onFrame: OnFrame): FrameError | undefined {
    const n = chunk.length;
    let p = 0;
    if (this.have > 0) {
      const held = this.held!;
      if (this.have === 1) {
        if (n === 0) return undefined;
        held[1] = chunk[p++]!;
        this.have = 2;
        const e = this.checkLength((held[0]! << 8) | held[1]!);
        if (e) return e;
      }
      const take = Math.min(this.need - this.have, n - p);
      chunk.copy(held, this.have, p, p + take);
      this.have += take;
      p += take;
      if (this.have < this.need) return undefined;
      const len = this.need - FRAME_HEADER;
      this.have = 0;
      this.need = 0;
      this.partialSince = -1;
      if (!onFrame(held, FRAME_HEADER, len)) return undefined;
    }
    while (n - p >= FRAME_HEADER) {
      const len = (chunk[p]! << 8) | chunk[p + 1]!;
      if (len === 0) return "empty-frame";
      if (len > this.maxFrame) return "oversize";
      if (n - p - FRAME_HEADER < len) break;
      if (!onFrame(chunk, p + FRAME_HEADER, len)) return undefined;
      p += FRAME_HEADER + len;
    }
    if (p === n) return undefined;
    // The start of a frame whose rest is still on its way.
    this.held ??= Buffer.allocUnsafe(this.maxFrame + FRAME_HEADER);
    chunk.copy(this.held, 0, p, n);
    this.have = n - p;
    this.partialSince = now;
    return this.have >= FRAME_HEADER ? this.checkLength((chunk[p]! << 8) | chunk[p + 1]!) : undefined;
  }

  private checkLength(len: number): FrameError | undefined {
    if (len === 0) return "empty-frame";
    if (len > this.maxFrame) return "oversize";
    this.need = FRAME_HEADER + len;
    return undefined;
  }
}

/** Writes the frame of payload buf[off..off+len) into `out` at 0; returns its size. `out` must hold len + 2. */
export function encodeFrame(out: Buffer, buf: Uint8Array, off: number, len: number): number {
  out[0] = len >>> 8;
  out[1] = len & 0xff;
  out.set(buf.subarray(off, off + len), FRAME_HEADER);
  return len + FRAME_HEADER;
}
