/**
 * The Redis behind the flow records: URLs (standalone, Cluster), records
 * with their TTL on the shared Redis, fail-fast while down, timeouts while
 * slow, reconnection on its own, and a real (throwaway) Redis Cluster.
 */
import { afterAll, describe, expect, it } from "vitest";
import { parseRedisUrl, RedisKv, redactRedisUrl } from "../../media/relay/redis.ts";
import { createLogger } from "../../media/runtime/log.ts";
import {
  dropKeys,
  REDIS_URL,
  redisServerAvailable,
  sharedRedisAvailable,
  startRedisCluster,
  TcpProxy,
  ThrowawayRedis,
  uniquePrefix,
} from "../support/redis.ts";
import { freePort } from "../support/stack.ts";

const log = createLogger("test");
const shared = await sharedRedisAvailable("relay redis tests");
const ownServers = redisServerAvailable("relay redis tests");
const prefix = uniquePrefix("kv");
const open: RedisKv[] = [];
const kv = (url: string, o?: ConstructorParameters<typeof RedisKv>[2]) => {
  const k = new RedisKv(url, log, o);
  open.push(k);
  return k;
};

afterAll(async () => {
  await Promise.all(open.map((k) => k.close()));
  if (shared) await dropKeys(REDIS_URL, prefix);
});

describe("redis URLs", () => {
  it("reads standalone and Cluster forms, and refuses others with the password hidden", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6379/2")).toEqual({
      kind: "standalone",
      url: "redis://127.0.0.1:6379/2",
    });
    expect(parseRedisUrl("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2,[fd00::1]:7002")).toEqual({
      kind: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 6379 },
        { host: "fd00::1", port: 7002 },
      ],
      username: "u",
      password: "p@ss",
      tls: false,
    });
    expect(parseRedisUrl("rediss://:pw@a:7000, rediss://b:7001")).toMatchObject({
      kind: "cluster",
      nodes: [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
      ],
      password: "pw",
      tls: true,
    });
    expect(() => parseRedisUrl("http://x:1")).toThrow("expected redis://, rediss:// or redis+cluster://");
    expect(() => parseRedisUrl("redis://:secret@")).toThrow();
    expect(() => parseRedisUrl("nonsense")).toThrow('redis URL "nonsense" is not a URL');
    expect(redactRedisUrl("redis://user:secret@h:1,redis://:s2@h:2")).toBe(
      "redis://user:***@h:1,redis://:***@h:2",
    );
  });
});

describe.skipIf(!shared)("redis: the shared server", () => {
  it("stores a value with its TTL and reads it back", async () => {
    const k = kv(REDIS_URL);
    expect(await k.whenReady(2000)).toBe(true);
    expect(k.up).toBe(true);
    await k.set(`${prefix}a`, "v1", 60_000);
    expect(await k.get(`${prefix}a`)).toBe("v1");
    const ttl = await (k.client as import("ioredis").Redis).pttl(`${prefix}a`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await k.get(`${prefix}missing`)).toBeNull();
  });

  it("times commands out while Redis is slow, and works again when it is not", {
    timeout: 10_000,
  }, async () => {
    const proxy = await TcpProxy.start(REDIS_URL);
    try {
      const k = kv(proxy.url, { commandTimeoutMs: 150 });
      expect(await k.whenReady(2000)).toBe(true);
      await k.set(`${prefix}b`, "v2", 60_000);
      proxy.stall();
      const t0 = Date.now();
      await expect(k.get(`${prefix}b`)).rejects.toThrow(/timed out/i);
      expect(Date.now() - t0).toBeLessThan(1000);
      await proxy.pass();
      expect(await k.get(`${prefix}b`)).toBe("v2");
    } finally {
      await proxy.close();
    }
  });
});

describe("redis: down", () => {
  it("reports down and fails fast while nothing listens", async () => {
    const k = kv(`redis://127.0.0.1:${await freePort()}`);
    expect(await k.whenReady(300)).toBe(false);
    expect(k.up).toBe(false);
    const t0 = Date.now();
    await expect(k.get("x")).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(100);
  });
});

describe.skipIf(!ownServers)("redis: a server that goes away and comes back", () => {
  it("notices the outage, reconnects on its own and says so (onUp)", async () => {
    const server = await ThrowawayRedis.start();
    try {
      const k = kv(server.url);
      expect(await k.whenReady(2000)).toBe(true);
      let ups = 0;
      k.onUp = () => ups++;
      await server.kill();
      const deadline = Date.now() + 3000;
      while (k.up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(k.up).toBe(false);
      await expect(k.get("x")).rejects.toThrow();
      await server.restart();
      expect(await k.whenReady(5000)).toBe(true);
      expect(ups).toBe(1);
      await k.set("x", "1", 1000);
      expect(await k.get("x")).toBe("1");
    } finally {
      await server.kill();
    }
  });

  it("works against a Redis Cluster (keys spread over the nodes' slots)", async () => {
    const cluster = await startRedisCluster(3);
    try {
      const k = kv(cluster.url);
      expect(await k.whenReady(5000)).toBe(true);
      const keys = Array.from({ length: 30 }, (_, i) => `ve:flow:cluster-1:10.0.0.${i}:5000`);
      await Promise.all(keys.map((key, i) => k.set(key, `v${i}`, 60_000)));
      expect(await Promise.all(keys.map((key) => k.get(key)))).toEqual(keys.map((_, i) => `v${i}`));
      // The keys really are on more than one node.
      const { Redis } = await import("ioredis");
      const perNode = await Promise.all(
        cluster.nodes.map(async (n) => {
          const r = new Redis(n.url);
          try {
            return await r.dbsize();
          } finally {
            r.disconnect();
          }
        }),
      );
      expect(perNode.filter((x) => x > 0).length).toBeGreaterThan(1);
    } finally {
      await cluster.stop();
    }
  });
});
