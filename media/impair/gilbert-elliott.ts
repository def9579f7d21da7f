/**
 * Bursty loss (Gilbert–Elliott): a two-state Markov chain stepped once per
 * packet. In the good state packets are lost with `lossGood` (usually 0), in
 * the bad state with `lossBad` (usually 1). The mean loss is
 * pBad * lossBad + (1 - pBad) * lossGood with pBad = enter / (enter + leave),
 * and a bad spell lasts 1 / leave packets on average.
 */
import type { Prng } from "./prng.ts";

export interface BurstLoss {
  /** P(good -> bad) per packet. */
  enter: number;
  /** P(bad -> good) per packet. */
  leave: number;
  lossGood: number;
  lossBad: number;
}

/** The chain for a mean loss rate and a mean burst length in packets (losses in bad spells only). */
export function burstLoss(meanLoss: number, meanBurstPackets: number): BurstLoss {
  if (!(meanLoss >= 0 && meanLoss < 1)) throw new Error(`bursty loss must be in [0, 1), got ${meanLoss}`);
  if (!(meanBurstPackets >= 1))
    throw new Error(`mean burst must be at least 1 packet, got ${meanBurstPackets}`);
  const leave = 1 / meanBurstPackets;
  // pBad = enter / (enter + leave) = meanLoss
  return { enter: (meanLoss * leave) / (1 - meanLoss), leave, lossGood: 0, lossBad: 1 };
}

export class GilbertElliott {
  bad = false;
  readonly model: BurstLoss;
  private readonly prng: Prng;

  constructor(model: BurstLoss, prng: Prng) {
    this.model = model;
    this.prng = prng;
  }

  /** Steps the chain for one packet; true if that packet is lost. */
  lose(): boolean {
    const m = this.model;
    this.bad = this.bad ? !this.prng.chance(m.leave) : this.prng.chance(m.enter);
    return this.prng.chance(this.bad ? m.lossBad : m.lossGood);
  }
}
