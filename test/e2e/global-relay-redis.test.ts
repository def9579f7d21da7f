/**
 * Redis stopped mid-call, with live werift calls through ingress -> cluster
 * relay -> transceiver (real processes). The Redis here is a throwaway
 * redis-server of this test (never the shared one): killed, then started
 * again empty on the same port.
 *
 *   - the calls go on while Redis is down, and a new call still connects
 *   - when Redis is back, the relays write every flow's record again (it lost them all)
 *   - so a cluster relay killed after that recovers every call from Redis
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keysUnder, redisServerAvailable, ThrowawayRedis, waitForKeys } from "../support/redis.ts";
import { type RelayChain, startRelayChain } from "../support/relay-chain.ts";
import {
  type AudioCall,
  longestSilence,
  openCall,
  type RelayProcess,
  spawnRelay,
  streamAudio,
  waitUntil,
} from "../support/relay-harness.ts";
import type { SpawnedTransceiver } from "../support/stack.ts";
import { LO } from "../support/udp.ts";

const CLUSTER = 22;
const canRun = redisServerAvailable("global relay e2e, Redis stopped mid-call");

let redis: ThrowawayRedis | undefined;
let chain: RelayChain | undefined;
let tx: SpawnedTransceiver;
let ingress: RelayProcess;
let clusterRelay: RelayProcess;
let clusterArgs: string[];
let calls: AudioCall[] = [];
const stops: (() => void)[] = [];
const prefix = "ve:flow:";
const redisUp = (r: RelayProcess) => r.metric("voice_edge_relay_redis_up");
/** The nominated flow of each call, as its records are keyed. */
const clientKeys = (tier: string) => calls.map((c) => `${prefix}${tier}:${LO}:${c.localPort()}`);

describe.skipIf(!canRun)("Global Relay: Redis stopped mid-call", () => {
  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
    chain = await startRelayChain({
      cluster: CLUSTER,
      calls: 4,
      redisUrl: redis.url,
      ingressExtra: ["--flow-id", "ingress-a"],
    });
    ({ tx, ingress, clusterRelay, calls } = chain);
    clusterArgs = [...chain.clusterArgs, ...chain.redisArgs];
    await waitUntil(() => calls.every((c) => c.arrivals.length > 5), 5000, "audio on every call");
    await waitForKeys(redis.url, `${prefix}ingress-a:`, calls.length);
  });

  afterAll(async () => {
    for (const s of stops) s();
    await chain?.stop();
    await redis?.kill();
  });

  it("calls go on while Redis is down, a new call connects, and recovery works again once Redis is back", async () => {
    const downAt = Date.now();
    await redis!.kill();
    await waitUntil(
      async () => (await redisUp(ingress)) === 0 && (await redisUp(clusterRelay)) === 0,
      5000,
      "both relays to see Redis down",
    );
    // A new call while Redis is down: flows open from STUN, as always.
    const late = await openCall(tx.url);
    calls.push(late);
    stops.push(streamAudio([late]));
    await waitUntil(
      () => late.arrivals.length > 5 && Date.now() - downAt > 1000,
      5000,
      "audio on the new call",
    );
    const downFor = Date.now();
    // No call noticed: at 50 packets/s, no silence longer than a few packets.
    const silences = longestSilence(calls.slice(0, 4), downAt, downFor);
    expect(Math.max(...silences)).toBeLessThan(300);
    expect(ingress.output()).toContain("redis unavailable: known flows go on");

    // Redis comes back empty: the relays write every flow's record again.
    await redis!.restart();
    await waitUntil(
      async () => (await redisUp(ingress)) === 1 && (await redisUp(clusterRelay)) === 1,
      5000,
      "both relays to reconnect",
    );
    await waitUntil(
      async () => {
        const have = new Set(await keysUnder(redis!.url, prefix));
        return [...clientKeys("ingress-a"), ...clientKeys(`cluster-${CLUSTER}`)].every((k) => have.has(k));
      },
      5000,
      "every call's records, in both tiers, in the new Redis",
    );

    // So a cluster relay lost now recovers all five calls from Redis.
    const killedAt = Date.now();
    await clusterRelay.kill9();
    clusterRelay = await spawnRelay(clusterArgs);
    await waitUntil(
      () => calls.every((c) => c.arrivals.some((t) => t > clusterRelay.readyAt)),
      5000,
      "audio again",
    );
    const recovered = await clusterRelay.metric("voice_edge_relay_flow_events_total", 'event="recovered"');
    const opened = await clusterRelay.metric("voice_edge_relay_flow_events_total", 'event="opened"');
    expect(recovered + opened).toBe(calls.length);
    expect(recovered).toBeGreaterThanOrEqual(calls.length - 1);
    expect(Math.max(...longestSilence(calls, killedAt - 100, Date.now()))).toBeLessThan(4000);
  });
});
