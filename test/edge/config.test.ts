import { describe, expect, it } from "vitest";
import { parseConfig, validateConfig } from "../../edge/config/parse.ts";
import { buildRuntime } from "../../edge/runtime.ts";
import { DEV_SESSION_API_TOKEN } from "../../shared/session-api.ts";
import { testPool } from "../support/edge-pools.ts";

const ingress = { id: "fra", latitude: 50, longitude: 8, address: "127.0.0.1:3478" };
const base = { pools: [testPool(1), testPool(2)], ingresses: [ingress] };

function errorsOf(raw: unknown): string[] {
  const r = validateConfig(raw);
  if (r.ok) throw new Error("expected the config to be rejected");
  return r.errors;
}

describe("edge configuration", () => {
  it("defaults to two loopback regions for local development", () => {
    const r = parseConfig(undefined);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { pools, ingresses, default_pools, fallback_pool } = r.config;
    expect(pools.map((p) => [p.id, p.region, p.endpoint])).toEqual([
      [1, "eu", "http://127.0.0.1:8801"],
      [2, "us", "http://127.0.0.1:8802"],
    ]);
    expect(ingresses.map((g) => g.address)).toEqual(["127.0.0.1:3478", "127.0.0.1:3479"]);
    expect(default_pools).toEqual([1, 2]);
    expect(fallback_pool).toBe(2);
    expect(parseConfig("  ").ok).toBe(true);
  });

  it("fills Cloudflare-like defaults: failover order as declared, fallback last, one monitor", () => {
    const r = validateConfig(base);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.default_pools).toEqual([1, 2]);
    expect(r.config.fallback_pool).toBe(2);
    expect(r.config.monitors).toEqual([
      { id: "default", path: "/healthz", interval: 60, timeout: 5, consecutive_up: 2, consecutive_down: 2 },
    ]);
    expect(r.config.steering_policy).toBe("proximity");
    expect(r.config.forwarding.attempt_timeout_ms).toBe(3000);
    expect(r.config.limits.max_body_bytes).toBe(65_536);
    expect(r.config.pools[0]).toMatchObject({ weight: 1, enabled: true });
  });

  it("takes ingress addresses as IP literals, IPv6 in brackets, since they become ICE candidates", () => {
    const ok = [
      { ...ingress, id: "v6", address: "[2001:db8::1]:3478" },
      { ...ingress, id: "v4", address: "203.0.113.9:443" },
    ];
    expect(validateConfig({ ...base, ingresses: ok }).ok).toBe(true);
    for (const address of [
      "relay-fra.example.net:3478",
      "2001:db8::1:3478",
      "300.1.1.1:3478",
      "[fe80::1%eth0]:3478",
    ]) {
      expect(errorsOf({ ...base, ingresses: [{ ...ingress, address }] })).toEqual([
        "ingresses[0].address: must be ip:port (IPv6 in brackets), an IP literal, not a name",
      ]);
    }
  });

  it("an ingress may name its ICE-TCP listener; tcp_only needs one", () => {
    const r = validateConfig({ ...base, ingresses: [{ ...ingress, tcp_address: "127.0.0.1:443" }] });
    expect(r.ok && r.config.ingresses[0]).toMatchObject({ tcp_address: "127.0.0.1:443", tcp_only: false });
    expect(errorsOf({ ...base, ingresses: [{ ...ingress, tcp_address: "relay.example.net:443" }] })).toEqual([
      "ingresses[0].tcp_address: must be ip:port (IPv6 in brackets), an IP literal, not a name",
    ]);
    expect(errorsOf({ ...base, ingresses: [{ ...ingress, tcp_only: true }] })).toEqual([
      "ingresses[0].tcp_only: needs tcp_address",
    ]);
  });

  it("names the field and the problem for each mistake", () => {
    expect(errorsOf({ ...base, pools: [testPool(1, { endpoint: "ftp://x" })] })).toEqual([
      "pools[0].endpoint: must be an http(s) URL",
    ]);
    expect(errorsOf({ ...base, pools: [testPool(1), testPool(1, { name: "other" })] })).toEqual([
      "pools[1]: duplicate pool id 1",
    ]);
    expect(errorsOf({ ...base, default_pools: [1, 9] })).toEqual(["default_pools[1]: unknown pool 9"]);
    expect(errorsOf({ ...base, fallback_pool: 9 })).toEqual(["fallback_pool: unknown pool 9"]);
    expect(errorsOf({ ...base, pools: [testPool(1, { monitor: "nope" })] })).toEqual([
      "pools[0].monitor: unknown monitor nope",
    ]);
    expect(errorsOf({ ...base, monitors: [{ id: "m", interval: 10, timeout: 10 }] })).toEqual([
      "monitors[0].timeout: must be shorter than interval",
    ]);
    expect(errorsOf({ ...base, ingresses: [{ ...ingress, address: "127.0.0.1" }] })).toHaveLength(1);
    expect(errorsOf({ ...base, ingresses: [{ ...ingress, address: "127.0.0.1:70000" }] })).toHaveLength(1);
    expect(errorsOf({ ...base, forwarding: { attempt_timeout_ms: 5000, deadline_ms: 1000 } })).toEqual([
      "forwarding.attempt_timeout_ms: must not exceed deadline_ms",
    ]);
    expect(errorsOf({ ...base, pools: [testPool(1, { latitude: 95 })] })[0]).toMatch(
      /^pools\[0\]\.latitude: /,
    );
    expect(errorsOf({ ...base, pools: [] })[0]).toMatch(/^pools: /);
    expect(errorsOf({ ...base, pool: [] })[0]).toMatch(/^\(root\): .*pool/);
  });

  it("reports JSON syntax errors as such", () => {
    const r = parseConfig("{pools:");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/^VOICE_EDGE_CONFIG is not JSON/);
  });
});

describe("runtime from the environment", () => {
  const good = { API_KEYS: "sk-aaaaaaaa", EDGE_SIGNING_KEY: "k".repeat(32), TRANSCEIVER_TOKEN: "tt" };

  it("collects every problem at once", () => {
    const r = buildRuntime({ VOICE_EDGE_CONFIG: '{"pools":[]}', API_KEYS: "" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.some((e) => e.startsWith("VOICE_EDGE_CONFIG pools:"))).toBe(true);
    expect(r.errors).toContain("API_KEYS is empty: set at least one server API key");
    expect(r.errors).toContain("EDGE_SIGNING_KEY is not set");
  });

  it("uses the built-in loopback topology only in the dev environment", () => {
    expect(buildRuntime({ ...good, VOICE_EDGE_ENV: "dev" }).ok).toBe(true);
    // dev also brings well-known keys, so `wrangler dev` works with no secrets at all.
    const dev = buildRuntime({ VOICE_EDGE_ENV: "dev" });
    expect(dev.ok && dev.runtime.apiKeys.size).toBe(1);
    for (const VOICE_EDGE_ENV of [undefined, "production"]) {
      const r = buildRuntime({ ...good, VOICE_EDGE_ENV });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors).toEqual([expect.stringMatching(/^VOICE_EDGE_CONFIG is not set/)]);
    }
    const typo = buildRuntime({ ...good, VOICE_EDGE_ENV: "prod", VOICE_EDGE_CONFIG: JSON.stringify(base) });
    expect(typo.ok).toBe(false);
  });

  it("builds the runtime when all is well; a missing or blank transceiver token is an error outside dev", () => {
    const r = buildRuntime({ ...good, VOICE_EDGE_CONFIG: JSON.stringify(base) });
    expect(r.ok && r.runtime.transceiverToken).toBe("tt");
    for (const TRANSCEIVER_TOKEN of [undefined, " "]) {
      const bad = buildRuntime({ ...good, VOICE_EDGE_CONFIG: JSON.stringify(base), TRANSCEIVER_TOKEN });
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.errors).toEqual([expect.stringMatching(/^TRANSCEIVER_TOKEN is not set/)]);
    }
    const dev = buildRuntime({ VOICE_EDGE_ENV: "dev" });
    expect(dev.ok && dev.runtime.transceiverToken).toBe(DEV_SESSION_API_TOKEN);
  });
});
