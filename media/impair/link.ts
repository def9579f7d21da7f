/**
 * One direction of the impairer (sans-IO): for each datagram, given the time
 * it arrived, whether it is dropped (and why) or when each copy leaves. The
 * steps, in order: blackout, random loss, bursty loss, rate limit, delay and
 * jitter (order kept), reordering, duplication.
 */
import { GilbertElliott } from "./gilbert-elliott.ts";
import type { Prng } from "./prng.ts";
import type { Profile } from "./profile.ts";
import { TokenBucket } from "./token-bucket.ts";

export const LINK_DROPS = ["blackout", "loss", "burst", "rate"] as const;
export type LinkDrop = (typeof LINK_DROPS)[number];

export interface LinkStats {
  packets: number;
  bytes: number;
  delivered: number;
  drops: Record<LinkDrop, number>;
  reordered: number;
  duplicated: number;
}

export class Link {
  readonly stats: LinkStats = {
    packets: 0,
    bytes: 0,
    delivered: 0,
    drops: { blackout: 0, loss: 0, burst: 0, rate: 0 },
    reordered: 0,
    duplicated: 0,
  };
  /** Departure times of the last pass()'s copies (its return value says how many). */
  readonly departures = [0, 0];
  /** Why the last pass() dropped its datagram. */
  lastDrop: LinkDrop | undefined;
  private profile!: Profile;
  private burst: GilbertElliott | undefined;
  private bucket: TokenBucket | undefined;
  /** The latest departure so far of a datagram that was not reordered: later ones leave no earlier. */
  private lastDeparture = Number.NEGATIVE_INFINITY;
  private blackoutUntil = Number.NEGATIVE_INFINITY;
  private readonly prng: Prng;

  constructor(profile: Profile, prng: Prng) {
    this.prng = prng;
    this.setProfile(profile);
  }

  get current(): Profile {
    return this.profile;
  }

  /** A new profile from now on; its loss chain and bucket start afresh. */
  setProfile(profile: Profile): void {
    this.profile = profile;
    this.burst = profile.burst ? new GilbertElliott(profile.burst, this.prng) : undefined;
    this.bucket = profile.rate ? new TokenBucket(profile.rate) : undefined;
  }

  /** Drops everything that arrives before `until` (ms). */
  blackout(until: number): void {
    this.blackoutUntil = Math.max(this.blackoutUntil, until);
  }

  inBlackout(now: number): boolean {
    return now < this.blackoutUntil;
  }

  /** One datagram of `bytes` arriving at `now` (ms): 0 (dropped, `lastDrop` says why), 1 or 2 copies. */
  pass(now: number, bytes: number): 0 | 1 | 2 {
    const s = this.stats;
    const p = this.profile;
    s.packets++;
    s.bytes += bytes;
    if (now < this.blackoutUntil) return this.drop("blackout");
    if (this.prng.chance(p.loss)) return this.drop("loss");
    if (this.burst?.lose()) return this.drop("burst");
    let t = now;
    if (this.bucket) {
      t = this.bucket.admit(now, bytes);
      if (t < 0) return this.drop("rate");
    }
    t += p.delayMs;
    if (p.jitterMs > 0) t = Math.max(t - p.delayMs, t + p.jitterMs * (2 * this.prng.next() - 1));
    if (this.prng.chance(p.reorder)) {
      t = Math.max(t, this.lastDeparture) + p.reorderMs;
      s.reordered++;
    } else {
      t = Math.max(t, this.lastDeparture);
      this.lastDeparture = t;
    }
    this.departures[0] = t;
    s.delivered++;
    if (this.prng.chance(p.duplicate)) {
      this.departures[1] = t;
      s.duplicated++;
      return 2;
    }
    return 1;
  }

  private drop(reason: LinkDrop): 0 {
    this.stats.drops[reason]++;
    this.lastDrop = reason;
    return 0;
  }
}
