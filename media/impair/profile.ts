/**
 * Impairment profiles: what one direction of the impairer does to datagrams.
 * A profile is written as a name, a spec (`loss=2%,delay=75,jitter=30`) or a
 * name followed by overrides (`rtt150,loss=1%`).
 */
import { commaList } from "../../shared/comma-list.ts";
import { type BurstLoss, burstLoss } from "./gilbert-elliott.ts";
import type { RateLimit } from "./token-bucket.ts";

export interface Profile {
  /** Independent random loss, 0..1. */
  loss: number;
  /** Bursty loss (Gilbert–Elliott), on top of `loss`. */
  burst: BurstLoss | undefined;
  /** Fixed one-way delay. */
  delayMs: number;
  /** Each datagram's delay varies uniformly within ±jitterMs (never below 0); order is kept. */
  jitterMs: number;
  /** Share of datagrams held back `reorderMs` longer, overtaken by the ones after them. */
  reorder: number;
  reorderMs: number;
  /** Share of datagrams sent twice. */
  duplicate: number;
  rate: RateLimit | undefined;
}

export const CLEAN: Profile = {
  loss: 0,
  burst: undefined,
  delayMs: 0,
  jitterMs: 0,
  reorder: 0,
  reorderMs: 40,
  duplicate: 0,
  rate: undefined,
};

/** Named profiles (each direction gets the same). */
export const PROFILES: Record<string, { spec: string; about: string }> = {
  clean: { spec: "", about: "no impairment" },
  loss2: { spec: "loss=2%", about: "2 % independent random loss" },
  bursty5: {
    spec: "burst=5%:4",
    about: "5 % bursty loss (Gilbert–Elliott, bursts of 4 packets on average)",
  },
  rtt150: { spec: "delay=75,jitter=30", about: "150 ms RTT: 75 ms each way, ±30 ms jitter" },
  wobbly: {
    spec: "loss=1%,delay=40,jitter=20,reorder=2%:30,duplicate=1%",
    about: "a bit of everything: 1 % loss, 80 ms RTT, jitter, reordering, duplicates",
  },
  narrow: { spec: "rate=64,queue=200", about: "a 64 kbit/s bottleneck with a 200 ms buffer" },
};

const DEFAULT_QUEUE_MS = 200;
const DEFAULT_BUCKET_BYTES = 3000;

/** `2%` or `0.02` -> 0.02. */
function share(key: string, v: string): number {
  const n = v.endsWith("%") ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (!Number.isFinite(n) || n < 0 || n >= 1)
    throw new Error(`${key}: a share in [0, 1) or 0..99%, got "${v}"`);
  return n;
}

function ms(key: string, v: string, max = 60_000): number {
  const n = Number(v.endsWith("ms") ? v.slice(0, -2) : v);
  if (!Number.isFinite(n) || n < 0 || n > max)
    throw new Error(`${key}: milliseconds in 0..${max}, got "${v}"`);
  return n;
}

/** Applies one `key=value` to a profile (a copy). */
function apply(p: Profile, key: string, value: string): Profile {
  const [a = "", b] = value.split(":");
  switch (key) {
    case "loss":
      return { ...p, loss: share(key, value) };
    case "burst": {
      const mean = share(key, a);
      const packets = b === undefined ? 4 : Number(b);
      if (!Number.isFinite(packets) || packets < 1)
        throw new Error(`burst: <mean loss>[:<mean burst packets, >= 1>], got "${value}"`);
      return { ...p, burst: mean === 0 ? undefined : burstLoss(mean, packets) };
    }
    case "delay":
      return { ...p, delayMs: ms(key, value) };
    case "jitter":
      return { ...p, jitterMs: ms(key, value) };
    case "reorder":
      return { ...p, reorder: share(key, a), reorderMs: b === undefined ? p.reorderMs : ms(key, b) };
    case "duplicate":
      return { ...p, duplicate: share(key, value) };
    case "rate": {
      const kbit = Number(value);
      if (!Number.isFinite(kbit) || kbit < 0) throw new Error(`rate: kbit/s (0: unlimited), got "${value}"`);
      if (kbit === 0) return { ...p, rate: undefined };
      return {
        ...p,
        rate: {
          bytesPerSecond: (kbit * 1000) / 8,
          burstBytes: p.rate?.burstBytes ?? DEFAULT_BUCKET_BYTES,
          queueMs: p.rate?.queueMs ?? DEFAULT_QUEUE_MS,
        },
      };
    }
    case "queue":
      if (!p.rate) throw new Error("queue: give rate= first");
      return { ...p, rate: { ...p.rate, queueMs: ms(key, value) } };
    case "bucket": {
      const bytes = Number(value);
      if (!p.rate) throw new Error("bucket: give rate= first");
      if (!Number.isInteger(bytes) || bytes < 1) throw new Error(`bucket: bytes >= 1, got "${value}"`);
      return { ...p, rate: { ...p.rate, burstBytes: bytes } };
    }
    default:
      throw new Error(
        `unknown profile key "${key}" (loss, burst, delay, jitter, reorder, duplicate, rate, queue, bucket)`,
      );
  }
}

/** A profile from `name`, `key=value,...` or `name,key=value,...`; throws with what is wrong. */
export function parseProfile(spec: string): Profile {
  let p = CLEAN;
  const items = commaList(spec);
  for (const [i, item] of items.entries()) {
    const eq = item.indexOf("=");
    if (eq < 0) {
      const named = PROFILES[item];
      if (!named || i > 0)
        throw new Error(
          named
            ? `profile name "${item}" must come first`
            : `unknown profile "${item}" (${Object.keys(PROFILES).join(", ")}, or key=value,...)`,
        );
      p = parseProfile(named.spec);
      continue;
    }
    p = apply(p, item.slice(0, eq).trim(), item.slice(eq + 1).trim());
  }
  return p;
}
