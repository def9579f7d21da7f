/**
 * Well-known keys for VOICE_EDGE_ENV=dev when API_KEYS / EDGE_SIGNING_KEY are not set. Safe only
 * because a dev edge answers loopback hosts alone (see app.ts).
 */
export const DEV_API_KEY = "sk-voice-edge-dev-key";
export const DEV_SIGNING_KEY = "0:dev-only-signing-key-never-use-it-in-staging-or-production";

/**
 * Built-in topology for local development: two "regions" on 127.0.0.1, each a
 * transceiver session API plus a Global Relay ingress. VOICE_EDGE_CONFIG
 * replaces it; see docs/edge.md.
 */
export const DEFAULT_TOPOLOGY = {
  pools: [
    {
      id: 1,
      name: "eu-fra",
      region: "eu",
      latitude: 50.1109,
      longitude: 8.6821,
      endpoint: "http://127.0.0.1:8801",
    },
    {
      id: 2,
      name: "us-iad",
      region: "us",
      latitude: 39.0438,
      longitude: -77.4874,
      endpoint: "http://127.0.0.1:8802",
    },
  ],
  default_pools: [1, 2],
  fallback_pool: 2,
  monitors: [
    { id: "default", path: "/healthz", interval: 60, timeout: 5, consecutive_up: 2, consecutive_down: 2 },
  ],
  ingresses: [
    { id: "fra", latitude: 50.1109, longitude: 8.6821, address: "127.0.0.1:3478" },
    { id: "iad", latitude: 39.0438, longitude: -77.4874, address: "127.0.0.1:3479" },
  ],
};
