/**
 * Issue #16, item 3, at the cluster relay, with real sockets: a sender on an
 * address the cluster relay takes ingresses from, but without the
 * encapsulation key, sends encapsulated datagrams naming a live client. It
 * must get nothing of the call's downlink and inject nothing into it.
 *
 * The real path is a real ingress in front of the cluster relay, and the fake
 * transceiver answers with the header it received, so nothing here builds a
 * legitimate header: the attacker's datagrams are raw bytes, the format from
 * before authentication (flags 0) and today's (a key id and a guessed token).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddressSet } from "../../media/relay/config.ts";
import { type Relay, startRelay } from "../../media/relay/server.ts";
import { forgedHeaders } from "../support/forged-encap.ts";
import { binding, CLUSTER, hint, relayOptions, rtp, verifiedHello } from "../support/relay-fixtures.ts";
import { type Datagram, LO, type Peer, Peers, until } from "../support/udp.ts";

let ingress: Relay;
let cluster: Relay;
let transceiver: Peer;
let client: Peer;
let attacker: Peer;
const peers = new Peers();
/** What the transceiver got, in order. */
const atTransceiver: Datagram[] = [];
/** What reached the attacker. */
const atAttacker: Datagram[] = [];

beforeAll(async () => {
  transceiver = await peers.open(LO);
  transceiver.onDatagram = (d) => atTransceiver.push(d);
  client = await peers.open(LO);
  attacker = await peers.open(LO);
  attacker.onDatagram = (d) => atAttacker.push(d);
  cluster = await startRelay(
    relayOptions({
      // Every sender on 127.0.0.1 is a "configured ingress": the attacker's address too.
      ingresses: AddressSet.parse(LO),
    }),
  );
  ingress = await startRelay(
    relayOptions({
      tier: "ingress",
      clusters: new Map([[CLUSTER, cluster.publicAddress]]),
    }),
  );
});

afterAll(async () => {
  await Promise.all([ingress?.close(), cluster?.close()]);
  await peers.closeAll();
});

/** The client's datagram, once it reached the transceiver: its header and where it came from. */
async function uplink(payload: Buffer): Promise<Datagram> {
  const n = atTransceiver.length;
  await client.send(payload, ingress.publicAddress);
  await until(() => atTransceiver.length > n, 2000, "the client's datagram at the transceiver");
  const d = atTransceiver[atTransceiver.length - 1]!;
  expect(d.msg.subarray(d.msg.length - payload.length)).toEqual(payload);
  return d;
}

describe("cluster relay behind ingresses: a sender on an ingress address without the key", () => {
  it("gets none of a live call's downlink and injects nothing", async () => {
    const req = binding(hint(transceiver.port));
    const first = await uplink(req);
    const header = first.msg.subarray(0, first.msg.length - req.length);
    const relayInternal = { address: LO, port: first.rinfo.port };
    // A ClientHello with a cookie: the ingress takes the client as verified (no byte budget).
    await uplink(verifiedHello(LO, client.port));
    // The call works: downlink reaches the client through both tiers.
    await transceiver.send(Buffer.concat([header, rtp(40, 1)]), relayInternal);
    expect((await client.next()).msg).toEqual(rtp(40, 1));

    // The attack: media and an authentic-hint Binding request (anyone gets a hint by signaling),
    // behind every header the attacker can make, to the cluster relay's ingress-facing socket.
    const marker = rtp(70, 0xee);
    const forged = forgedHeaders(client.port).flatMap((h) => [
      Buffer.concat([h, marker]),
      Buffer.concat([h, binding(hint(transceiver.port))]),
    ]);
    const before = cluster.stats.clientPackets;
    for (const d of forged) await attacker.send(d, cluster.publicAddress);
    await until(() => cluster.stats.clientPackets >= before + forged.length, 2000, "the relay to read them");

    // Downlink: every datagram still reaches the client (each goes to one place: not the attacker).
    for (let i = 0; i < 10; i++)
      await transceiver.send(Buffer.concat([header, rtp(40, 10 + i)]), relayInternal);
    for (let i = 0; i < 10; i++) expect((await client.next()).msg).toEqual(rtp(40, 10 + i));
    // Inject: the client's next datagram comes after the attacker's on the same socket, and the
    // transceiver has seen nothing of the attacker's in between.
    await uplink(rtp(50, 0x42));
    expect(atTransceiver.filter((d) => d.msg.subarray(header.length).equals(marker))).toEqual([]);
    expect(atTransceiver.every((d) => d.rinfo.port === relayInternal.port)).toBe(true);
    expect(atAttacker).toEqual([]);
    expect(cluster.stats.ingressMoves).toBe(0);
    expect(cluster.stats.drops.malformed).toBe(2); // the untagged ones
    expect(cluster.stats.drops["bad-encap-token"]).toBe(2); // key id 1, guessed token
    expect(cluster.stats.drops["unknown-encap-key"]).toBe(2); // key id 2: not held
  });
});
