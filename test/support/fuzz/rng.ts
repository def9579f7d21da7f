import { Prng } from "../../../media/impair/prng.ts";

/** The impairer's seeded PRNG with what the fuzz harness draws: the same seed replays the same run. */
export class Rng extends Prng {
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }

  /** A child generator: one stream per attack, so adding one does not shift the others. */
  fork(salt: number): Rng {
    return new Rng((this.int(0, 0x7fffffff) ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
  }
}

/** A real datagram, mutated: bit flips, truncation, an inserted or deleted run, or a splice of two. */
export function mutate(rng: Rng, real: Buffer, other?: Buffer): Buffer {
  const b = Buffer.from(real);
  switch (rng.int(0, 4)) {
    case 0: {
      for (let i = rng.int(1, 4); i > 0 && b.length > 0; i--)
        b[rng.int(0, b.length - 1)]! ^= 1 << rng.int(0, 7);
      return b;
    }
    case 1:
      return b.subarray(0, rng.int(0, Math.max(0, b.length - 1)));
    case 2: {
      const at = rng.int(0, b.length);
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 32)), b.subarray(at)]);
    }
    case 3: {
      const at = rng.int(0, b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 16)))]);
    }
    default: {
      const o = other ?? rng.bytes(40);
      return Buffer.concat([b.subarray(0, rng.int(0, b.length)), o.subarray(rng.int(0, o.length))]);
    }
  }
}
