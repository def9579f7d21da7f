/** Test topologies on loopback, with cities to place callers (cf latitude/longitude are strings). */
import type { FakeTransceiver } from "./fake-transceiver.ts";

/**
 * Miniflare merges a request's cf over a placeholder (Austin, US), so "unknown" must be said
 * explicitly: null is what a missing field looks like to the Worker's parser.
 */
export const NOWHERE = { latitude: null, longitude: null, colo: null, country: null, continent: null };

export const CITY = {
  berlin: { latitude: "52.5200", longitude: "13.4050" },
  newYork: { latitude: "40.7128", longitude: "-74.0060" },
  tokyo: { latitude: "35.6762", longitude: "139.6503" },
  saoPaulo: { latitude: "-23.5505", longitude: "-46.6333" },
  mumbai: { latitude: "19.0760", longitude: "72.8777" },
} as const;

const SITES = {
  fra: { name: "eu-fra", region: "eu", latitude: 50.1109, longitude: 8.6821 },
  iad: { name: "us-iad", region: "us", latitude: 39.0438, longitude: -77.4874 },
  sin: { name: "ap-sin", region: "ap", latitude: 1.3521, longitude: 103.8198 },
} as const;

export type Site = keyof typeof SITES;

/** One pool per fake transceiver (cluster id = fake's), plus ingresses at the same sites and São Paulo. */
export function topology(fakes: Array<[Site, FakeTransceiver]>, extra: Record<string, unknown> = {}) {
  return {
    pools: fakes.map(([site, fake]) => ({ id: fake.cluster, ...SITES[site], endpoint: fake.endpoint })),
    ingresses: [
      { id: "fra", latitude: 50.1109, longitude: 8.6821, address: "127.0.0.1:3478" },
      { id: "iad", latitude: 39.0438, longitude: -77.4874, address: "127.0.0.1:3479" },
      { id: "sin", latitude: 1.3521, longitude: 103.8198, address: "127.0.0.1:3480" },
      { id: "gru", latitude: -23.4356, longitude: -46.4731, address: "127.0.0.1:3481" },
    ],
    ...extra,
  };
}
