import { describe, expect, it } from "vitest";
import { validateConfig } from "../../edge/config/parse.ts";
import type { EdgeConfig, Pool } from "../../edge/config/schema.ts";
import { locateCaller } from "../../edge/steering/locate.ts";
import { type Availability, nearestIngress, planAttempts } from "../../edge/steering/plan.ts";
import { testPool } from "../support/edge-pools.ts";

const POOLS: Array<[number, string, number, number]> = [
  [1, "eu-fra", 50.11, 8.68],
  [2, "us-iad", 39.04, -77.49],
  [3, "us-sjc", 37.34, -121.89],
  [4, "sa-gru", -23.55, -46.63],
  [5, "ap-sin", 1.35, 103.82],
  [6, "ap-nrt", 35.68, 139.69],
  [7, "ap-bom", 19.08, 72.88],
  [8, "oc-syd", -33.87, 151.21],
];
const INGRESSES: Array<[string, number, number]> = [
  ["ams", 52.37, 4.9],
  ["iad", 38.95, -77.46],
  ["lax", 34.05, -118.24],
  ["gru", -23.55, -46.63],
  ["sin", 1.35, 103.82],
  ["hkg", 22.32, 114.17],
  ["jnb", -26.2, 28.05],
  ["syd", -33.87, 151.21],
];

function config(over: Record<string, unknown> = {}): EdgeConfig {
  const r = validateConfig({
    pools: POOLS.map(([id, name, latitude, longitude]) =>
      testPool(id, { name, region: name.slice(0, 2), latitude, longitude }),
    ),
    ingresses: INGRESSES.map(([id, latitude, longitude], i) => ({
      id,
      latitude,
      longitude,
      address: `127.0.0.1:${3470 + i}`,
    })),
    forwarding: { tie_km: 10 },
    ...over,
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.config;
}

const allReady = (): Availability => "ready";
const names = (plan: ReturnType<typeof planAttempts>) => plan.map((a) => a.pool.name);

describe("steering by proximity: real cities", () => {
  // City, latitude, longitude (as Cloudflare sends them: strings), nearest cluster, nearest ingress.
  const CITIES: Array<[string, string, string, string, string]> = [
    ["London", "51.5072", "-0.1276", "eu-fra", "ams"],
    ["Madrid", "40.4168", "-3.7038", "eu-fra", "ams"],
    ["Moscow", "55.7558", "37.6173", "eu-fra", "ams"],
    ["Cairo", "30.0444", "31.2357", "eu-fra", "ams"],
    ["Lagos", "6.5244", "3.3792", "eu-fra", "jnb"],
    ["Johannesburg", "-26.2041", "28.0473", "ap-bom", "jnb"],
    ["Nairobi", "-1.2921", "36.8219", "ap-bom", "jnb"],
    ["Dubai", "25.2048", "55.2708", "ap-bom", "ams"],
    ["Delhi", "28.6139", "77.2090", "ap-bom", "hkg"],
    ["Toronto", "43.6532", "-79.3832", "us-iad", "iad"],
    ["Chicago", "41.8781", "-87.6298", "us-iad", "iad"],
    ["Denver", "39.7392", "-104.9903", "us-sjc", "lax"],
    ["Seattle", "47.6062", "-122.3321", "us-sjc", "lax"],
    ["Honolulu", "21.3069", "-157.8583", "us-sjc", "lax"],
    ["Mexico City", "19.4326", "-99.1332", "us-sjc", "lax"],
    ["Bogota", "4.7110", "-74.0721", "us-iad", "iad"],
    ["Lima", "-12.0464", "-77.0428", "sa-gru", "gru"],
    ["Buenos Aires", "-34.6037", "-58.3816", "sa-gru", "gru"],
    ["Seoul", "37.5665", "126.9780", "ap-nrt", "hkg"],
    ["Taipei", "25.0330", "121.5654", "ap-nrt", "hkg"],
    ["Jakarta", "-6.2088", "106.8456", "ap-sin", "sin"],
    ["Manila", "14.5995", "120.9842", "ap-sin", "hkg"],
    ["Perth", "-31.9505", "115.8605", "oc-syd", "syd"],
    ["Auckland", "-36.8485", "174.7633", "oc-syd", "syd"],
  ];

  it.each(CITIES)("%s goes to %s, ingress %s", (_city, latitude, longitude, cluster, ingress) => {
    const caller = locateCaller({ latitude, longitude, colo: "SIN", country: "XX" });
    expect(caller?.source).toBe("geo");
    const plan = planAttempts(config(), allReady, caller);
    expect(plan[0]!.pool.name).toBe(cluster);
    expect(plan.every((a) => a.ingress.id === ingress)).toBe(true);
    // Failover goes outwards: each next cluster is no nearer than the previous one.
    const km = plan.map((a) => a.distanceKm!);
    expect([...km].sort((a, b) => a - b)).toEqual(km);
  });
});

describe("caller location", () => {
  it("falls back from coordinates to colo, country, continent, then nothing", () => {
    expect(locateCaller({ latitude: "48.85", longitude: "2.35" })).toEqual({
      latitude: 48.85,
      longitude: 2.35,
      source: "geo",
    });
    expect(locateCaller({ latitude: "", longitude: "2.35", colo: "nrt" })).toMatchObject({
      source: "colo",
      latitude: 35.77,
    });
    expect(locateCaller({ latitude: "91", longitude: "0", country: "BR" })).toMatchObject({
      source: "country",
    });
    expect(locateCaller({ latitude: "1e3", longitude: "x", country: "T1", continent: "OC" })).toMatchObject({
      source: "continent",
    });
    expect(locateCaller({ colo: "ZZZ", country: "XX" })).toBeUndefined();
    expect(locateCaller(undefined)).toBeUndefined();
  });

  it("steers by colo or country when Cloudflare has no coordinates", () => {
    expect(planAttempts(config(), allReady, locateCaller({ colo: "GRU" }))[0]!.pool.name).toBe("sa-gru");
    expect(planAttempts(config(), allReady, locateCaller({ country: "JP" }))[0]!.pool.name).toBe("ap-nrt");
    expect(planAttempts(config(), allReady, locateCaller({ continent: "EU" }))[0]!.pool.name).toBe("eu-fra");
  });
});

describe("failover order and health tiers", () => {
  const paris = { latitude: 48.85, longitude: 2.35 };

  it("uses default_pools as the failover order when the caller is unknown or the policy is off", () => {
    const cfg = config({ default_pools: [3, 1, 2], fallback_pool: 2 });
    expect(names(planAttempts(cfg, allReady, undefined))).toEqual(["us-sjc", "eu-fra", "us-iad"]);
    const off = config({ default_pools: [3, 1, 2], fallback_pool: 2, steering_policy: "off" });
    expect(names(planAttempts(off, allReady, paris))).toEqual(["us-sjc", "eu-fra", "us-iad"]);
  });

  it("advertises the ingress nearest the cluster when the caller is unknown", () => {
    const plan = planAttempts(config({ default_pools: [8, 4] }), allReady, undefined);
    expect(plan.map((a) => a.ingress.id)).toEqual(["syd", "gru"]);
  });

  it("skips unavailable pools, tries suspect ones after ready ones, and ends with the fallback whatever its health", () => {
    const cfg = config({ default_pools: [1, 2, 3], fallback_pool: 8 });
    const health: Record<string, Availability> = {
      "eu-fra": "suspect",
      "us-iad": "unavailable",
      "oc-syd": "unavailable",
    };
    const plan = planAttempts(cfg, (p) => health[p.name] ?? "ready", paris);
    expect(names(plan)).toEqual(["us-sjc", "eu-fra", "oc-syd"]);
    expect(plan.map((a) => a.fallback)).toEqual([false, false, true]);
  });

  it("leaves out disabled and drained (weight 0) pools, and a disabled fallback", () => {
    const pools = config().pools.map((p) =>
      p.id === 1
        ? { ...p, enabled: false }
        : p.id === 2
          ? { ...p, weight: 0 }
          : p.id === 3
            ? { ...p, enabled: false }
            : p,
    );
    const cfg = { ...config({ default_pools: [1, 2, 3, 4] }), pools, fallback_pool: 3 };
    expect(names(planAttempts(cfg, allReady, paris))).toEqual(["sa-gru"]);
  });

  it("does not include pools outside default_pools except as the fallback", () => {
    const cfg = config({ default_pools: [2], fallback_pool: 3 });
    expect(names(planAttempts(cfg, allReady, paris))).toEqual(["us-iad", "us-sjc"]);
  });
});

describe("equally near pools", () => {
  it("share calls in proportion to weight", () => {
    const twin = (id: number, weight: number): Pool => testPool(id, { weight, enabled: true });
    const cfg = { ...config(), pools: [twin(1, 1), twin(2, 0.25)], default_pools: [1, 2], fallback_pool: 2 };
    const random = mulberry32(42);
    let first = 0;
    const runs = 4000;
    for (let i = 0; i < runs; i++) {
      if (planAttempts(cfg, allReady, { latitude: 48.85, longitude: 2.35 }, random)[0]!.pool.id === 1)
        first++;
    }
    expect(first / runs).toBeGreaterThan(0.75);
    expect(first / runs).toBeLessThan(0.85);
  });

  it("nearestIngress picks the closest one", () => {
    expect(nearestIngress(config().ingresses, { latitude: -33, longitude: 18 }).id).toBe("jnb");
  });
});

/** Small seeded PRNG so the weight test is deterministic. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
