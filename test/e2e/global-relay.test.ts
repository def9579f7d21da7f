/**
 * Global Relay with real processes on loopback and 20 live werift calls:
 *
 *   werift client -> ingress (voice-edge relay --tier ingress) -> load balancer
 *                 -> cluster relay (voice-edge relay --tier cluster) -> transceiver (echo)
 *
 * The cluster relay is killed with SIGKILL and started again, then the load
 * balancer sends every flow to a second instance: both times audio resumes
 * from the flow records in Redis (REDIS_URL), well before any client's next
 * STUN consent check (every 4-6 s) could have rebuilt the flows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropKeys, REDIS_URL, sharedRedisAvailable, uniquePrefix, waitForKeys } from "../support/redis.ts";
import { type RelayChain, startRelayChain } from "../support/relay-chain.ts";
import {
  type AudioCall,
  longestSilence,
  type RelayProcess,
  resumeAfter,
  spawnRelay,
  type UdpBalancer,
  waitUntil,
} from "../support/relay-harness.ts";
import { type SpawnedTransceiver, txFetch } from "../support/stack.ts";
import { LO } from "../support/udp.ts";

const CLUSTER = 21;
const CALLS = 20;
/** werift's consent checks come every 5 s x 0.8-1.2: no STUN check can rebuild a flow sooner than this. */
const CONSENT_MIN_MS = 4000;
const shared = await sharedRedisAvailable("global relay e2e");
const prefix = uniquePrefix("e2e");

let chain: RelayChain | undefined;
let tx: SpawnedTransceiver;
let lb: UdpBalancer;
let ingress: RelayProcess;
let clusterRelay: RelayProcess;
let clusterArgs: string[];
let calls: AudioCall[] = [];

const recoveredOf = (r: RelayProcess) => r.metric("voice_edge_relay_flow_events_total", 'event="recovered"');
const openedOf = (r: RelayProcess) => r.metric("voice_edge_relay_flow_events_total", 'event="opened"');
const allFlowing = (since: number) => calls.every((c) => c.arrivals.some((t) => t > since));
/** Packets each call has not got back (sent minus echoed). */
const missing = () => calls.map((c) => c.sent - c.arrivals.length);

describe.skipIf(!shared)("Global Relay: 20 calls through ingress -> cluster relay -> transceiver", () => {
  beforeAll(async () => {
    chain = await startRelayChain({
      cluster: CLUSTER,
      calls: CALLS,
      redisUrl: REDIS_URL,
      prefix,
      balancer: true,
    });
    ({ tx, ingress, clusterRelay, calls } = chain);
    lb = chain.lb!;
    clusterArgs = [...chain.clusterArgs, ...chain.redisArgs];
    // Both tiers wrote a record per call.
    await waitForKeys(REDIS_URL, `${prefix}cluster-${CLUSTER}:`, CALLS);
    await waitForKeys(REDIS_URL, `${prefix}ingress-${LO}:${chain.ingressPort}:`, CALLS);
    await waitUntil(() => allFlowing(Date.now() - 100), 5000, "audio on every call");
  });

  afterAll(async () => {
    await chain?.stop();
    if (shared) await dropKeys(REDIS_URL, prefix);
  });

  it("every call goes through both tiers, and the transceiver sees each client's own address", async () => {
    // (A werift client checks from each of its host candidates: a flow for each, the nominated one carries media.)
    const first = clusterRelay;
    const opened = await openedOf(ingress);
    expect(opened).toBeGreaterThanOrEqual(CALLS);
    expect(await openedOf(first)).toBe(opened);
    expect(await ingress.metric("voice_edge_relay_drops_total", 'reason="amplification"')).toBe(0);
    for (const c of calls) {
      expect(c.remotePort()).toBe(ingress.publicPort); // the client only ever talks to the ingress
      const info = (await (await txFetch(`${tx.url}/v1/sessions/${c.id}`)).json()) as { client: string };
      expect(info.client).toBe(`${LO}:${c.localPort()}`);
    }
  });

  it("kill -9 the cluster relay and start a new one: audio resumes from Redis, gap and loss bounded", async () => {
    const old = clusterRelay;
    const lostBefore = missing();
    const killedAt = Date.now();
    await old.kill9();
    const fresh = await spawnRelay(clusterArgs); // same address: the ingress and the balancer know nothing
    clusterRelay = fresh;
    await waitUntil(() => allFlowing(fresh.readyAt), 5000, "audio on every call after the restart");
    await new Promise((r) => setTimeout(r, 200));
    // The longest silence of each call around the restart (the kill takes a few ms to land).
    const gaps = longestSilence(calls, killedAt - 100, Date.now());
    const resume = resumeAfter(calls, fresh.readyAt);
    const [recovered, opened] = [await recoveredOf(fresh), await openedOf(fresh)];
    console.log(
      `restart: process back after ${fresh.readyAt - killedAt} ms; audio gap per call ms: max ${Math.max(...gaps)}, ` +
        `after the new relay listened: max ${Math.max(...resume)}; recovered ${recovered}, opened by STUN ${opened}`,
    );
    // Resumed through Redis: nearly every flow was recovered, not opened by a STUN check (one may have
    // been due in the few ms before its RTP), and audio came back long before the next consent check.
    expect(recovered + opened).toBe(CALLS);
    expect(recovered).toBeGreaterThanOrEqual(CALLS - 2);
    expect(Math.max(...resume)).toBeLessThan(1000);
    expect(Math.max(...gaps)).toBeLessThan(CONSENT_MIN_MS);
    // Lost packets (both directions) are the gap's worth at 50 packets/s, not more.
    const lost = missing().map((m, i) => m - lostBefore[i]!);
    for (let i = 0; i < CALLS; i++)
      expect(lost[i]!, `call ${i}`).toBeLessThanOrEqual(Math.ceil(gaps[i]! / 20) + 5);
  });

  it("the load balancer sends every flow to a second instance: the calls go on without STUN", async () => {
    const second = await spawnRelay(
      clusterArgs.map((a) => (a.startsWith(`${LO}:`) && a !== `${LO}:0` ? `${LO}:0` : a)),
    );
    const lostBefore = missing();
    const swappedAt = Date.now();
    lb.backend = { address: LO, port: second.publicPort };
    await waitUntil(
      () => allFlowing(swappedAt + 40),
      3000,
      "audio on every call through the second instance",
    );
    await new Promise((r) => setTimeout(r, 200));
    const gaps = longestSilence(calls, swappedAt - 100, Date.now());
    const [recovered, opened] = [await recoveredOf(second), await openedOf(second)];
    console.log(
      `swap: audio gap per call ms: max ${Math.max(...gaps)}; recovered ${recovered}, opened by STUN ${opened}`,
    );
    expect(recovered + opened).toBe(CALLS);
    expect(recovered).toBeGreaterThanOrEqual(CALLS - 2);
    expect(Math.max(...gaps)).toBeLessThan(500);
    const lost = missing().map((m, i) => m - lostBefore[i]!);
    expect(Math.max(...lost)).toBeLessThanOrEqual(5);
    // The transceiver still sees the clients themselves, now through the second instance.
    for (const c of calls.slice(0, 3)) {
      const info = (await (await txFetch(`${tx.url}/v1/sessions/${c.id}`)).json()) as { client: string };
      expect(info.client).toBe(`${LO}:${c.localPort()}`);
    }
    expect(await second.metric("voice_edge_relay_packets_total", 'path="to_transceiver"')).toBeGreaterThan(0);
  });
});
