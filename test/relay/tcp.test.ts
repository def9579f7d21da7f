/**
 * The relay's ICE-TCP listener with real sockets on 127.0.0.1: raw TCP
 * clients speaking RFC 4571 frames, a fake transceiver that echoes every
 * encapsulated datagram, and a UDP client alongside that must not notice
 * anything the TCP clients do.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Relay, startRelay } from "../../media/relay/server.ts";
import { FLOW_END } from "../../media/wire/flow-end.ts";
import { binding, CLUSTER, encapKeys, hint, relayOptions, rtp } from "../support/relay-fixtures.ts";
import { TcpPeer, within } from "../support/tcp.ts";
import { type Datagram, echoTransceiver, LO, Peer, until } from "../support/udp.ts";

const LIMITS = {
  firstFrameTimeoutMs: 300,
  frameTimeoutMs: 300,
  maxPerAddress: 4,
  maxFrame: 1500,
  maxBufferedBytes: 16 * 1024,
};

let relay: Relay;
let transceiver: Peer & { got: Datagram[] };
let tcpPeers: TcpPeer[];
let udpPeers: Peer[];

async function tcp(): Promise<TcpPeer> {
  const p = await TcpPeer.open(relay.tcpAddress!);
  tcpPeers.push(p);
  return p;
}

/** A TCP client whose flow is open (its Binding request reached the transceiver and came back). */
async function opened(): Promise<TcpPeer> {
  const p = await tcp();
  p.send(binding(hint(transceiver.port)));
  await until(() => p.frames.length === 1, 3000, "the echoed Binding request");
  return p;
}

beforeEach(async () => {
  tcpPeers = [];
  udpPeers = [];
  transceiver = await echoTransceiver();
  relay = await startRelay(
    relayOptions({
      tcp: { listen: { address: LO, port: 0 }, limits: LIMITS },
    }),
  );
});

afterEach(async () => {
  for (const p of tcpPeers) p.close();
  await relay.close();
  await Promise.all([transceiver.close(), ...udpPeers.map((p) => p.close())]);
});

describe("relay over ICE-TCP", () => {
  it("a first frame with a valid hint opens a flow keyed by the TCP peer address; frames go on as datagrams, replies come back framed", async () => {
    const c = await tcp();
    const req = binding(hint(transceiver.port));
    c.send(req);
    await until(() => transceiver.got.length === 1, 3000, "the Binding request at the transceiver");
    const got = transceiver.got[0]!;
    // The same encapsulation as UDP: the client's address is the TCP connection's peer address.
    expect(got.rinfo.port).toBe(relay.internalAddress.port);
    const header = encapKeys.header(LO, c.port);
    expect(got.msg.subarray(0, header.length)).toEqual(header);
    expect(got.msg.subarray(header.length)).toEqual(req);
    await until(() => c.frames.length === 1, 3000, "the echo");
    expect(c.frames[0]).toEqual(req);
    // Media both ways, several frames coalesced in one write.
    const media = [rtp(100, 1), rtp(200, 2), rtp(300, 3)];
    c.sendRaw(Buffer.concat(media.map(frameOf)));
    await until(() => c.frames.length === 4, 3000, "three echoed media frames");
    expect(c.frames.slice(1)).toEqual(media);
    expect(relay.stats.flowsOpened).toBe(1);
    const [flow] = [...relay.flows.flows()];
    expect(flow!.stream).toBeDefined();
    expect(flow!.budget.verified).toBe(true);
    expect(relay.stats.tcpAccepted).toBe(1);
    expect(relay.snapshot().tcpConnections).toBe(1);
  });

  const bad: [string, () => Buffer, string][] = [
    ["garbage (an HTTP request)", () => Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "oversize"],
    ["a frame of RTP", () => frameOf(rtp()), "not-stun"],
    ["a Binding request with a forged hint", () => frameOf(binding(forged(hint(9)))), "bad-hint"],
    [
      "a Binding request with a hint for another cluster",
      () => frameOf(binding(hint(9, { cluster: CLUSTER + 1 }))),
      "wrong-cluster",
    ],
  ];
  for (const [what, bytes, dropped] of bad) {
    it(`closes a connection whose first bytes are ${what}, and counts it`, async () => {
      const c = await tcp();
      c.sendRaw(bytes());
      expect(await within(c.closed, 3000)).toBe(true);
      if (dropped === "oversize") expect(relay.stats.tcpCloses.oversize).toBe(1);
      else {
        expect(relay.stats.tcpCloses["first-frame"]).toBe(1);
        expect(relay.stats.drops[dropped as "not-stun"]).toBe(1);
      }
      expect(relay.flows.size).toBe(0);
      expect(transceiver.got.length).toBe(0); // nothing unattributable went on
    });
  }

  it("closes a connection that sends nothing, or only part of its first frame, by the first-frame deadline", async () => {
    const silent = await tcp();
    const partial = await tcp();
    partial.sendRaw(frameOf(binding(hint(transceiver.port))).subarray(0, 30));
    expect(await within(Promise.all([silent.closed, partial.closed]), 3000)).toBe(true);
    expect(relay.stats.tcpCloses["first-frame-timeout"] + relay.stats.tcpCloses["frame-timeout"]).toBe(2);
    expect(relay.stats.tcpCloses["first-frame-timeout"]).toBeGreaterThanOrEqual(1);
    expect(transceiver.got.length).toBe(0);
  });

  it("closes an open flow's connection that leaves a frame half-sent (slowloris), and its flow goes", async () => {
    const c = await opened();
    expect(relay.flows.size).toBe(1);
    const f = frameOf(rtp(500));
    c.sendRaw(f.subarray(0, 100));
    expect(await within(c.closed, 3000)).toBe(true);
    expect(relay.stats.tcpCloses["frame-timeout"]).toBe(1);
    expect(relay.flows.size).toBe(0);
    expect(relay.stats.flowsClosed).toBe(1);
  });

  it("closes on an oversize or zero frame length, even after the flow opened", async () => {
    const big = await opened();
    big.sendRaw(Buffer.from([0x05, 0xdd])); // 1501 > maxFrame
    const zero = await opened();
    zero.sendRaw(Buffer.from([0, 0]));
    expect(await within(Promise.all([big.closed, zero.closed]), 3000)).toBe(true);
    expect(relay.stats.tcpCloses.oversize).toBe(1);
    expect(relay.stats.tcpCloses["empty-frame"]).toBe(1);
    expect(relay.flows.size).toBe(0);
  });

  it("refuses connections beyond maxPerAddress from one address, and takes them again once one closes", async () => {
    const open = await Promise.all(Array.from({ length: LIMITS.maxPerAddress }, () => opened()));
    const extra = await tcp();
    expect(await within(extra.closed, 3000)).toBe(true);
    expect(relay.stats.tcpCloses["per-address"]).toBe(1);
    open[0]!.close();
    await until(() => relay.stats.tcpCloses.peer === 1, 3000, "the relay to see the close");
    const again = await opened();
    expect(again.isClosed).toBe(false);
    expect(relay.flows.size).toBe(LIMITS.maxPerAddress);
  });

  it("a client that closes takes its flow along; the flow-end marker closes the connection", async () => {
    const leaving = await opened();
    const ended = await opened();
    leaving.close();
    await until(() => relay.flows.size === 1, 3000, "the closed connection's flow to go");
    // The transceiver ends the other session: its last reply, then the marker.
    const header = encapKeys.header(LO, ended.port);
    transceiver.onDatagram = undefined;
    await transceiver.send(Buffer.concat([header, rtp(80, 9)]), relay.internalAddress);
    await transceiver.send(Buffer.concat([header, FLOW_END]), relay.internalAddress);
    expect(await within(ended.closed, 3000)).toBe(true);
    expect(ended.frames.at(-1)).toEqual(rtp(80, 9)); // the goodbye got out before the FIN
    expect(relay.stats.tcpCloses.ended).toBe(1);
    expect(relay.flows.size).toBe(0);
  });

  it("a slow reader: replies beyond the send-buffer bound are dropped and counted, not buffered", async () => {
    const c = await opened();
    c.socket.pause(); // reads nothing more: the kernel's buffers fill, then the relay's queue
    transceiver.onDatagram = undefined;
    const header = encapKeys.header(LO, c.port);
    const reply = Buffer.concat([header, rtp(1200, 7)]);
    let sent = 0;
    // Bursts until the relay drops (loopback buffers hold a few MB first).
    while (relay.stats.tcpBackpressureDrops === 0 && sent < 200_000) {
      for (let i = 0; i < 200; i++) transceiver.socket.send(reply, relay.internalAddress.port, LO);
      sent += 200;
      await new Promise((r) => setImmediate(r));
    }
    expect(relay.stats.tcpBackpressureDrops).toBeGreaterThan(0);
    const delivered = relay.stats.deliveredPackets;
    c.socket.resume();
    await until(
      () => c.frames.length >= delivered - relay.stats.tcpBackpressureDrops,
      10_000,
      "the queued replies",
    );
    // What reached the client is what was not dropped; the connection lives on.
    expect(c.isClosed).toBe(false);
    expect(c.frames.length - 1).toBeLessThan(sent);
  });

  it("a UDP call beside it is undisturbed by every kind of bad TCP input", async () => {
    const udp = await Peer.open();
    udpPeers.push(udp);
    await udp.send(binding(hint(transceiver.port)), relay.publicAddress);
    await udp.next(3000);
    const echoed: Buffer[] = [];
    udp.onDatagram = (d) => echoed.push(d.msg);
    const barrage = async () => {
      const garbage = await tcp();
      garbage.sendRaw(Buffer.alloc(64, 0x41));
      const forgedHint = await tcp();
      forgedHint.send(binding(forged(hint(transceiver.port))));
      const partial = await tcp();
      partial.sendRaw(Buffer.from([0x01]));
      await Promise.all([garbage.closed, forgedHint.closed, partial.closed]);
    };
    const media = async () => {
      for (let i = 0; i < 50; i++) {
        await udp.send(rtp(100, i), relay.publicAddress);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await Promise.all([barrage(), media()]);
    await until(() => echoed.length === 50, 3000, "every UDP echo");
    expect(echoed.map((m) => m[20])).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(relay.stats.tcpCloses.oversize + relay.stats.tcpCloses["first-frame"]).toBe(2);
    expect(relay.stats.drops["bad-hint"]).toBe(1);
  });

  it("closing the relay closes its connections", async () => {
    const c = await opened();
    await relay.close();
    expect(await within(c.closed, 3000)).toBe(true);
    expect(relay.stats.tcpCloses.closing).toBe(1);
  });
});

function frameOf(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([payload.length >> 8, payload.length & 0xff]), payload]);
}

/** The hint with one character of its tag changed. */
function forged(h: string): string {
  const last = h.at(-1) === "A" ? "B" : "A";
  return h.slice(0, -1) + last;
}
