/**
 * Relays that restart, get swapped, drain, or lose Redis, over real UDP on
 * 127.0.0.1 with a fake transceiver that echoes what it gets. Flow records
 * live in the shared Redis (REDIS_URL) under a prefix of this run; Redis
 * "slow" and "down" are a TCP proxy in front of it, never the server itself.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AddressSet } from "../../media/relay/config.ts";
import { type Relay, type RelayOptions, startRelay } from "../../media/relay/server.ts";
import { ENCAP_V4_LEN, encapAddress, encapPort } from "../../media/wire/encap.ts";
import { FLOW_END } from "../../media/wire/flow-end.ts";
import {
  dropKeys,
  keysUnder,
  REDIS_URL,
  sharedRedisAvailable,
  TcpProxy,
  uniquePrefix,
  waitForKeys,
} from "../support/redis.ts";
import {
  binding,
  CLUSTER,
  encapKeys,
  hint,
  relayOptions,
  rtp,
  verifiedHello,
} from "../support/relay-fixtures.ts";
import { echoTransceiver, LO, type Peer, Peers, until } from "../support/udp.ts";

const shared = await sharedRedisAvailable("relay failover tests");
const prefix = uniquePrefix("failover");

let relays: Relay[] = [];
const peers = new Peers();

async function relay(o: Partial<RelayOptions>): Promise<Relay> {
  const r = await startRelay(
    relayOptions({
      redis: REDIS_URL,
      flowPrefix: prefix,
      ...o,
    }),
  );
  relays.push(r);
  return r;
}

/** Sends and waits for the echo, which must come from `from`'s port. */
async function roundTrip(client: Peer, to: { port: number }, msg: Buffer): Promise<void> {
  await client.send(msg, { address: LO, port: to.port });
  const back = await client.next(2000);
  expect(back.rinfo.port).toBe(to.port);
  expect(back.msg).toEqual(msg);
}

afterEach(async () => {
  await Promise.all(relays.map((r) => r.close()));
  await peers.closeAll();
  relays = [];
});

afterAll(async () => {
  if (shared) await dropKeys(REDIS_URL, prefix);
});

describe.skipIf(!shared)("flow records: restart and swap", () => {
  let tx: Awaited<ReturnType<typeof echoTransceiver>>;
  beforeAll(async () => {
    tx = await echoTransceiver();
  });
  afterAll(async () => {
    await tx.close();
  });

  it("a flow its transceiver ends loses its shared record at once: no relay can recover it", async () => {
    const id = `cluster-end-${Date.now()}`;
    const r1 = await relay({ flowId: id });
    const client = await peers.open();
    await roundTrip(client, r1.publicAddress, binding(hint(tx.port)));
    await until(() => r1.records!.stats.writes === 1, 2000, "the flow's record");
    expect(await keysUnder(REDIS_URL, `${prefix}${id}:`)).toHaveLength(1);
    // The transceiver's flow-end marker, from the flow's transceiver, through the relay's internal socket.
    const header = encapKeys.header(LO, client.port);
    await tx.send(Buffer.concat([header, FLOW_END]), r1.internalAddress);
    await until(() => r1.stats.flowsEnded === 1, 2000, "the flow to end");
    await until(() => r1.records!.stats.deletes === 1, 2000, "the record's delete");
    await r1.close();
    expect(await keysUnder(REDIS_URL, `${prefix}${id}:`)).toEqual([]);
    // A replacement relay finds nothing to recover: the client's media is not forwarded.
    const r2 = await relay({ flowId: id, listen: { address: LO, port: r1.publicAddress.port } });
    await client.send(rtp(80, 1), { address: LO, port: r2.publicAddress.port });
    await until(() => r2.records!.stats.misses === 1, 2000, "the lookup to miss");
    expect(r2.stats.forwardedPackets).toBe(0);
  });

  it("a relay restarted on its port forwards its clients' next datagrams at once, held ones included", async () => {
    const id = `cluster-restart-${Date.now()}`;
    const r1 = await relay({ flowId: id });
    const clients = await Promise.all(Array.from({ length: 5 }, () => peers.open()));
    for (const c of clients) {
      await roundTrip(c, r1.publicAddress, binding(hint(tx.port)));
      // Verified: the record says so, and the next relay lets the transceiver send more than the client did.
      await roundTrip(c, r1.publicAddress, verifiedHello(LO, c.port));
    }
    await until(() => r1.records!.stats.writes === 10, 2000, "opened and verified, 5 times");
    await r1.close(); // a clean close waits for the writes it sent
    const stored = await keysUnder(REDIS_URL, `${prefix}${id}:`);
    expect(stored.sort()).toEqual(clients.map((c) => `${prefix}${id}:${LO}:${c.port}`).sort());

    const port = r1.publicAddress.port;
    const r2 = await relay({ flowId: id, listen: { address: LO, port } });
    // Three datagrams back to back from every client: the first starts a lookup, the others wait with it.
    for (const c of clients) for (let i = 0; i < 3; i++) await c.send(rtp(80, i + 1), { address: LO, port });
    for (const c of clients) {
      const got = [await c.next(), await c.next(), await c.next()];
      expect(got.map((d) => d.msg[2])).toEqual([1, 2, 3]);
      expect(got.every((d) => d.rinfo.port === port)).toBe(true);
    }
    expect(r2.stats.flowsRecovered).toBe(5);
    expect(r2.stats.flowsOpened).toBe(0);
    expect(r2.records!.stats).toMatchObject({ lookups: 5, hits: 5 });
    expect(r2.stats.drops).toMatchObject({ "not-stun": 0, recovering: 0 });
    // Verification came back with the record: an answer larger than anything the client sent goes through.
    const c0 = clients[0]!;
    const big = tx.onDatagram;
    tx.onDatagram = (d) => {
      tx.got.push(d);
      tx.socket.send(
        Buffer.concat([d.msg.subarray(0, ENCAP_V4_LEN), Buffer.alloc(1000, 0x17)]),
        d.rinfo.port,
        d.rinfo.address,
      );
    };
    try {
      await c0.send(rtp(20), { address: LO, port });
      expect((await c0.next()).msg.length).toBe(1000);
    } finally {
      tx.onDatagram = big;
    }
  });

  it("misses are remembered, and an unknown client still opens with STUN", async () => {
    const r = await relay({ flowId: `cluster-miss-${Date.now()}`, recovery: { negativeMs: 60_000 } });
    const c = await peers.open();
    for (let i = 0; i < 4; i++) await c.send(rtp(), r.publicAddress);
    await until(() => r.stats.drops["not-stun"] === 4, 2000, "4 not-stun drops");
    expect(r.records!.stats).toMatchObject({ lookups: 1, misses: 1 });
    await roundTrip(c, r.publicAddress, binding(hint(tx.port)));
    await roundTrip(c, r.publicAddress, rtp());
  });

  it("ingress -> cluster relay: the client's address survives both hops; either tier restarts, or is swapped, without STUN", async () => {
    const t = Date.now();
    const clusterOpts = { flowId: `cluster-2t-${t}`, ingresses: AddressSet.parse(LO) };
    let cr = await relay(clusterOpts);
    const clusters = new Map([[CLUSTER, cr.publicAddress]]);
    const ingressOpts = { tier: "ingress" as const, cluster: undefined, clusters, flowId: `ingress-2t-${t}` };
    let ing = await relay(ingressOpts);
    const client = await peers.open();

    await roundTrip(client, ing.publicAddress, binding(hint(tx.port)));
    const seen = tx.got.at(-1)!;
    expect([encapAddress(seen.msg), encapPort(seen.msg)]).toEqual([LO, client.port]);
    expect(seen.rinfo.port).toBe(cr.internalAddress.port);
    expect(ing.stats.flowsOpened).toBe(1);
    expect(cr.stats.flowsOpened).toBe(1);
    await waitForKeys(REDIS_URL, `${prefix}${clusterOpts.flowId}:`, 1);
    await waitForKeys(REDIS_URL, `${prefix}${ingressOpts.flowId}:`, 1);

    // The cluster relay restarts on its address: the ingress knows nothing of it.
    const crPort = cr.publicAddress.port;
    await cr.close();
    cr = await relay({ ...clusterOpts, listen: { address: LO, port: crPort } });
    await roundTrip(client, ing.publicAddress, rtp(120, 7));
    expect(cr.stats.flowsRecovered).toBe(1);
    expect([encapAddress(tx.got.at(-1)!.msg), encapPort(tx.got.at(-1)!.msg)]).toEqual([LO, client.port]);

    // The ingress restarts on its address.
    const ingPort = ing.publicAddress.port;
    await ing.close();
    ing = await relay({ ...ingressOpts, listen: { address: LO, port: ingPort } });
    await roundTrip(client, ing.publicAddress, rtp(120, 8));
    expect(ing.stats.flowsRecovered).toBe(1);
    expect(cr.stats.ingressMoves).toBe(1); // the new ingress sends from a new internal port; replies follow

    // A second instance of the same ingress (as behind a load balancer after a scale event) takes the client.
    const twin = await relay({ ...ingressOpts });
    await roundTrip(client, twin.publicAddress, rtp(120, 9));
    expect(twin.stats.flowsRecovered).toBe(1);
    expect(twin.stats.flowsOpened).toBe(0);
    expect(cr.stats.ingressMoves).toBe(2);
    expect(cr.stats.flowsOpened + cr.stats.flowsRecovered).toBe(1);
  });
});

describe.skipIf(!shared)("Redis slow, then down, then back", () => {
  it("known flows go on, new ones open from STUN, lookups fail fast; records are rewritten when Redis is back", async () => {
    const proxy = await TcpProxy.start(REDIS_URL);
    const tx = await echoTransceiver();
    try {
      const id = `cluster-slow-${Date.now()}`;
      const r = await relay({ flowId: id, redis: proxy.url, admin: { address: LO, port: 0 } });
      const a = await peers.open();
      await roundTrip(a, r.publicAddress, binding(hint(tx.port)));
      await until(() => r.records!.stats.writes === 1, 2000, "a's record");

      proxy.stall();
      const b = await peers.open();
      await roundTrip(b, r.publicAddress, binding(hint(tx.port))); // opens while Redis hangs
      const stranger = await peers.open();
      await stranger.send(rtp(), r.publicAddress); // a lookup that will time out
      for (let i = 0; i < 5; i++) await roundTrip(a, r.publicAddress, rtp(60, i));
      await until(() => r.records!.stats.errors === 1, 2000, "the lookup to time out");
      expect(r.stats.drops["not-stun"]).toBe(1);

      await proxy.cut();
      await until(() => !r.records!.up, 3000, "redis down");
      const metrics = await (await fetch(`http://${LO}:${r.adminAddress!.port}/metrics`)).text();
      expect(metrics).toContain("voice_edge_relay_redis_up 0");
      expect(metrics).toMatch(/voice_edge_relay_redis_lookups_total\{result="error"\} 1/);
      expect((await (await fetch(`http://${LO}:${r.adminAddress!.port}/healthz`)).json()).redis).toBe("down");
      const c = await peers.open();
      await roundTrip(c, r.publicAddress, binding(hint(tx.port))); // still opens
      await roundTrip(a, r.publicAddress, rtp());

      await proxy.pass();
      await until(() => r.records!.up, 5000, "redis up again");
      const want = [a, b, c].map((p) => `${prefix}${id}:${LO}:${p.port}`).sort();
      expect(await waitForKeys(REDIS_URL, `${prefix}${id}:`, 3)).toEqual(want);
    } finally {
      await proxy.close();
      await tx.close();
    }
  });
});

describe("draining", () => {
  it("keeps forwarding known flows, refuses new ones, and ends once they went quiet", async () => {
    const tx = await echoTransceiver();
    try {
      const r = await relay({ redis: undefined, drainQuietMs: 300, admin: { address: LO, port: 0 } });
      const a = await peers.open();
      await roundTrip(a, r.publicAddress, binding(hint(tx.port)));
      const draining = r.drain(10_000);
      const health = await fetch(`http://${LO}:${r.adminAddress!.port}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ok: false, draining: true });
      const late = await peers.open();
      await late.send(binding(hint(tx.port)), r.publicAddress);
      await until(() => r.stats.drops.draining === 1, 2000, "the new flow refused");
      for (let i = 0; i < 3; i++) await roundTrip(a, r.publicAddress, rtp(60, i));
      const t0 = Date.now();
      expect(await draining).toEqual({ activeFlows: 0, timedOut: false });
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await tx.close();
    }
  });

  it("gives up at the deadline while a flow stays active", async () => {
    const tx = await echoTransceiver();
    try {
      const r = await relay({ redis: undefined, drainQuietMs: 5000 });
      const a = await peers.open();
      await roundTrip(a, r.publicAddress, binding(hint(tx.port)));
      expect(await r.drain(200)).toEqual({ activeFlows: 1, timedOut: true });
    } finally {
      await tx.close();
    }
  });
});
