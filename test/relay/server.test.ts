/**
 * The relay with real sockets on 127.0.0.1: fake clients, and a fake
 * transceiver that answers encapsulated datagrams with encapsulated replies.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Relay, startRelay } from "../../media/relay/server.ts";
import {
  ENCAP_V4,
  encapHeaderLength,
  ENCAP_V4_LEN as V4,
  ENCAP_V6_LEN as V6,
} from "../../media/wire/encap.ts";
import {
  binding,
  CLUSTER,
  clientHello,
  encapKeys,
  encapped,
  expectedIo,
  hint,
  relayOptions,
  rtp,
  verifiedHello,
} from "../support/relay-fixtures.ts";
import { ipv6Peer, LO, type Peer, Peers, until } from "../support/udp.ts";

let relay: Relay;
let transceiver: Peer;
const peers = new Peers();

async function start(o: { idleTimeoutMs?: number; maxFlows?: number; admin?: boolean } = {}) {
  relay = await startRelay(
    relayOptions({
      idleTimeoutMs: o.idleTimeoutMs,
      maxFlows: o.maxFlows,
      admin: o.admin ? { address: LO, port: 0 } : undefined,
    }),
  );
}

/** Opens a flow for `client` and returns the datagram the transceiver got. */
async function openFlow(client: Peer) {
  const req = binding(hint(transceiver.port));
  await client.send(req, relay.publicAddress);
  const got = await transceiver.next();
  return { req, got };
}

/** What the transceiver sends back for client `port`: the header, then `payload`. */
function replyTo(port: number, payload: Buffer, address = LO): Buffer {
  return encapped(address, port, payload);
}

beforeEach(async () => {
  transceiver = await peers.open();
  await start();
});

afterEach(async () => {
  await relay.close();
  await peers.closeAll();
});

describe("relay over UDP", () => {
  it("runs the I/O backend asked for (VOICE_EDGE_RELAY_IO: this test project's), else batch when its addon loads", () => {
    expect(relay.io).toBe(expectedIo());
  });

  it("opens a flow from a hint-bearing Binding request and forwards it with the client's address in front", async () => {
    const client = await peers.open();
    const { req, got } = await openFlow(client);
    expect(got.rinfo.port).toBe(relay.internalAddress.port);
    expect(got.msg[0]).toBe(ENCAP_V4);
    expect(encapHeaderLength(got.msg, got.msg.length)).toBe(V4);
    expect(got.msg.subarray(0, V4)).toEqual(encapKeys.header(LO, client.port));
    expect(got.msg.subarray(V4)).toEqual(req);
    expect(relay.flows.size).toBe(1);
    expect(relay.stats.flowsOpened).toBe(1);
  });

  it("forwards later RTP of the flow, and the transceiver's replies reach the client from the public port", async () => {
    const client = await peers.open();
    const { req } = await openFlow(client);
    // The STUN answer: no bigger than what the client sent (the flow is not verified yet).
    const answer = Buffer.alloc(req.length - 10, 0x01);
    await transceiver.send(replyTo(client.port, answer), relay.internalAddress);
    const a = await client.next();
    expect(a.rinfo.port).toBe(relay.publicAddress.port);
    expect(a.msg).toEqual(answer);

    const media = rtp(172, 0x33);
    await client.send(media, relay.publicAddress);
    const fwd = await transceiver.next();
    expect(fwd.msg).toEqual(encapped(LO, client.port, media));
    await transceiver.send(replyTo(client.port, rtp(60, 0x44)), relay.internalAddress);
    const back = await client.next();
    expect(back.msg).toEqual(rtp(60, 0x44));
    expect(back.rinfo.port).toBe(relay.publicAddress.port);
    expect(relay.stats.deliveredPackets).toBe(2);
  });

  it("drops what may not open a flow, each under its reason, and leaves the live flow alone", async () => {
    const client = await peers.open();
    await openFlow(client);
    const stranger = await peers.open();
    const tampered = hint(transceiver.port);
    const forged = `${tampered.slice(0, 10)}${tampered[10] === "A" ? "B" : "A"}${tampered.slice(11)}`;
    const sends: [Buffer, string][] = [
      [binding(forged), "bad-hint"],
      [binding("abcd"), "bad-hint"],
      [Buffer.from("\x00\x01garbage that is not STUN"), "not-stun"],
      [binding(hint(transceiver.port)).subarray(0, 36), "not-stun"],
      [rtp(), "not-stun"],
      [clientHello({ cookie: Buffer.alloc(8, 1) }), "not-stun"],
      [binding(hint(transceiver.port, { cluster: CLUSTER + 1 })), "wrong-cluster"],
    ];
    for (const [pkt] of sends) await stranger.send(pkt, relay.publicAddress);
    await until(() => relay.stats.clientPackets === 1 + sends.length, 2000, "the relay to read them all");
    expect(relay.stats.drops).toMatchObject({ "bad-hint": 2, "not-stun": 4, "wrong-cluster": 1 });
    expect(relay.stats.hintFailures).toMatchObject({ "bad-tag": 1, length: 1 });
    expect(relay.flows.size).toBe(1);
    expect(transceiver.pending).toBe(0);

    // The live flow still works both ways.
    await client.send(rtp(100, 9), relay.publicAddress);
    expect((await transceiver.next()).msg.subarray(V4)).toEqual(rtp(100, 9));
    await transceiver.send(replyTo(client.port, rtp(50, 8)), relay.internalAddress);
    expect((await client.next()).msg).toEqual(rtp(50, 8));
  });

  it("accepts encapsulated replies only from the flow's transceiver, only for live clients, never on the public port", async () => {
    const client = await peers.open();
    await openFlow(client);
    await client.send(rtp(200), relay.publicAddress); // budget for the replies below
    await transceiver.next();
    const impostor = await peers.open();
    await impostor.send(replyTo(client.port, rtp(40, 0xee)), relay.internalAddress);
    await until(() => relay.stats.drops["wrong-source"] === 1, 2000, "wrong-source");
    await transceiver.send(replyTo(client.port + 1, rtp(40, 0xee)), relay.internalAddress);
    await until(() => relay.stats.drops["unknown-flow"] === 1, 2000, "unknown-flow");
    await transceiver.send(replyTo(client.port, rtp(40, 0xee)), relay.publicAddress);
    await transceiver.send(Buffer.from([0xf4, 0x01, 0, 0, 0, 0, 0, 0, 1]), relay.internalAddress);
    await until(
      () => relay.stats.drops["not-stun"] === 1 && relay.stats.drops.malformed === 1,
      2000,
      "not-stun and malformed",
    );
    // Nothing reached the client: the next thing it gets is the real reply.
    await transceiver.send(replyTo(client.port, rtp(40, 0x11)), relay.internalAddress);
    expect((await client.next()).msg).toEqual(rtp(40, 0x11));
    expect(relay.stats.deliveredPackets).toBe(1);
  });

  it("sends an unverified client no more than it sent, until a ClientHello with a cookie", async () => {
    const client = await peers.open();
    const { req } = await openFlow(client);
    const big = Buffer.alloc(req.length + 1, 0x16);
    await transceiver.send(replyTo(client.port, big), relay.internalAddress);
    await until(() => relay.stats.drops.amplification === 1, 2000, "amplification drop");

    // The first ClientHello (no cookie) does not verify; HelloVerifyRequest fits the budget.
    const hello = clientHello();
    await client.send(hello, relay.publicAddress);
    await transceiver.next();
    const hvr = Buffer.alloc(60, 0x16);
    await transceiver.send(replyTo(client.port, hvr), relay.internalAddress);
    expect((await client.next()).msg).toEqual(hvr);
    const flight = Buffer.alloc(1100, 0x16); // certificate flight: more than the client ever sent
    await transceiver.send(replyTo(client.port, flight), relay.internalAddress);
    await until(() => relay.stats.drops.amplification === 2, 2000, "second amplification drop");

    // A cookie minted for another address (the sender's own flow elsewhere) verifies nothing.
    await client.send(verifiedHello(LO, client.port + 1), relay.publicAddress);
    await until(() => relay.stats.drops["bad-cookie"] === 1, 2000, "bad-cookie drop");
    await client.send(verifiedHello(LO, client.port), relay.publicAddress);
    await transceiver.next();
    expect(relay.stats.flowsVerified).toBe(1);
    await transceiver.send(replyTo(client.port, flight), relay.internalAddress);
    expect((await client.next()).msg).toEqual(flight);
  });

  it("re-points a flow to another transceiver on a Binding request with a new hint", async () => {
    const client = await peers.open();
    await openFlow(client);
    const second = await peers.open();
    await client.send(binding(hint(second.port)), relay.publicAddress);
    const got = await second.next();
    expect(got.msg.subarray(0, V4)).toEqual(encapKeys.header(LO, client.port));
    await client.send(rtp(80, 2), relay.publicAddress);
    expect((await second.next()).msg.subarray(V4)).toEqual(rtp(80, 2));
    expect(transceiver.pending).toBe(0);
    expect(relay.stats.flowsRepointed).toBe(1);
  });

  it("removes idle flows; their replies are then refused", async () => {
    await relay.close();
    await start({ idleTimeoutMs: 100 });
    const client = await peers.open();
    await openFlow(client);
    await until(() => relay.stats.flowsExpired === 1, 3000, "the flow to expire");
    expect(relay.flows.size).toBe(0);
    await transceiver.send(replyTo(client.port, Buffer.alloc(10)), relay.internalAddress);
    await until(() => relay.stats.drops["unknown-flow"] === 1, 2000, "unknown-flow");
    await client.send(rtp(), relay.publicAddress);
    await until(() => relay.stats.drops["not-stun"] === 1, 2000, "not-stun");
  });

  it("refuses new flows when the table is full", async () => {
    await relay.close();
    await start({ maxFlows: 1 });
    await openFlow(await peers.open());
    const late = await peers.open();
    await late.send(binding(hint(transceiver.port)), relay.publicAddress);
    await until(() => relay.stats.drops["table-full"] === 1, 2000, "table-full");
    expect(relay.flows.size).toBe(1);
  });

  it("serves /metrics from the counters and /healthz", async () => {
    await relay.close();
    await start({ admin: true });
    await openFlow(await peers.open());
    await (await peers.open()).send(rtp(), relay.publicAddress);
    await until(() => relay.stats.drops["not-stun"] === 1, 2000, "not-stun");
    const base = `http://${LO}:${relay.adminAddress!.port}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('voice_edge_relay_packets_total{path="from_client"} 2');
    expect(metrics).toContain('voice_edge_relay_packets_total{path="to_transceiver"} 1');
    expect(metrics).toContain('voice_edge_relay_drops_total{reason="not-stun"} 1');
    expect(metrics).toContain('voice_edge_relay_flow_events_total{event="opened"} 1');
    expect(metrics).toContain("voice_edge_relay_flows 1");
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, flows: 1 });
  });

  it("refuses to start on a port already in use, with the address in the message", async () => {
    await expect(
      startRelay(
        relayOptions({
          listen: relay.publicAddress,
        }),
      ),
    ).rejects.toThrow(`cannot bind the public socket to ${LO}:${relay.publicAddress.port}`);
  });
});

describe("relay over UDP, IPv6 clients", () => {
  it("carries an IPv6 client's address in a 0xF6 header, and replies find it", async (ctx) => {
    const v6 = await ipv6Peer(ctx, peers.open);
    await relay.close();
    relay = await startRelay(
      relayOptions({
        listen: { address: "::1", port: 0 },
      }),
    );
    const req = binding(hint(transceiver.port));
    await v6.send(req, { address: "::1", port: relay.publicAddress.port });
    const got = await transceiver.next();
    expect(got.msg.subarray(0, V6)).toEqual(encapKeys.header("::1", v6.port));
    expect(got.msg.subarray(V6)).toEqual(req);
    await transceiver.send(
      Buffer.concat([got.msg.subarray(0, V6), Buffer.alloc(20, 7)]),
      relay.internalAddress,
    );
    const back = await v6.next();
    expect(back.msg).toEqual(Buffer.alloc(20, 7));
    expect(back.rinfo.port).toBe(relay.publicAddress.port);
  });
});
