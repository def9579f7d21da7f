/**
 * Where the caller is, from the request's `cf` object: latitude/longitude
 * (strings) when Cloudflare has them, else the data center, country or
 * continent. Undefined when nothing is known: steering then uses the failover order.
 */
import type { Point } from "./geo.ts";
import { COLOS, CONTINENTS, COUNTRIES } from "./places.ts";

export type LocationSource = "geo" | "colo" | "country" | "continent";

export interface CallerLocation extends Point {
  source: LocationSource;
}

/** The fields of IncomingRequestCfProperties steering reads; all optional and untrusted in shape. */
export interface CfLocation {
  latitude?: unknown;
  longitude?: unknown;
  colo?: unknown;
  country?: unknown;
  continent?: unknown;
}

const DECIMAL = /^[+-]?\d{1,3}(?:\.\d+)?$/;

export function locateCaller(cf: CfLocation | undefined | null): CallerLocation | undefined {
  if (!cf) return undefined;
  const latitude = coordinate(cf.latitude, 90);
  const longitude = coordinate(cf.longitude, 180);
  if (latitude !== undefined && longitude !== undefined) return { latitude, longitude, source: "geo" };
  return (
    lookup(COLOS, cf.colo, "colo") ??
    lookup(COUNTRIES, cf.country, "country") ??
    lookup(CONTINENTS, cf.continent, "continent")
  );
}

function coordinate(v: unknown, limit: number): number | undefined {
  const s = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : "";
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && Math.abs(n) <= limit ? n : undefined;
}

function lookup(
  table: Readonly<Record<string, readonly [number, number]>>,
  code: unknown,
  source: LocationSource,
): CallerLocation | undefined {
  if (typeof code !== "string") return undefined;
  const hit = table[code.toUpperCase()];
  return hit ? { latitude: hit[0], longitude: hit[1], source } : undefined;
}
