/**
 * #16 items 1 and 2, against a relay facing clients and a real transceiver:
 *
 * 1. Amplification with a replayed cookie. An attacker opens a session from
 *    its own address, gets a HelloVerifyRequest cookie, then sends one STUN
 *    check and the ClientHello with that cookie with the source forged to a
 *    victim. The victim must receive no more bytes than were "sent" from it.
 * 2. A ClientHello without cookie, forged to a live client's address, must not
 *    restart or end that client's DTLS: its audio keeps flowing.
 *
 * "Forged" datagrams are sent from the victim's (or the live client's) own
 * socket: to the relay and transceiver that is exactly a datagram with that
 * source, and the test can count what comes back to it.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import { ENCAP_V4_LEN } from "../../media/wire/encap.ts";
import {
  attackerCheck,
  firstClientHello,
  handshakeType,
  learnCookie,
  sendFromClient,
  tapSends,
  withCookie,
} from "../support/dtls.ts";
import { encapKeys, encapped } from "../support/relay-fixtures.ts";
import { type SpawnedTransceiver, spawnTransceiver, startTestRelay, txFetch } from "../support/stack.ts";
import { type Peer, Peers, until } from "../support/udp.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const CLUSTER = 5;
let relay: Relay;
let tx: SpawnedTransceiver;
const clients: TestClient[] = [];
const peers = new Peers();

async function post(sdp: string): Promise<{ id: string; sdp: string; ufrag: string }> {
  const res = await txFetch(`${tx.url}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sdp }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; sdp: string; ufrag: string };
}

/** A connected werift call; `dtlsGate` gets each epoch-0 ClientHello it sends. */
async function call(dtlsGate: Buffer[] = []): Promise<{ client: TestClient; ufrag: string }> {
  const client = createTestClient();
  clients.push(client);
  const offer = await client.offer();
  tapSends(client, (d) => {
    if (handshakeType(d) === 1) dtlsGate.push(d);
  });
  const s = await post(offer);
  await client.answer(s.sdp);
  await client.connected();
  await client.channelOpen();
  return { client, ufrag: s.ufrag };
}

async function peer(): Promise<Peer & { bytes: number; packets: number }> {
  const p = (await peers.open()) as Peer & { bytes: number; packets: number };
  p.bytes = 0;
  p.packets = 0;
  p.onDatagram = (d) => {
    p.bytes += d.msg.length;
    p.packets++;
  };
  return p;
}

const transceiverDrops = async (reason: string) => {
  const text = await (await fetch(`${tx.url}/metrics`)).text();
  return Number(
    new RegExp(`dtls_gate_drops_total\\{worker="0",reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
  );
};

beforeAll(async () => {
  relay = await startTestRelay(CLUSTER);
  tx = await spawnTransceiver({ cluster: CLUSTER, ingress: `127.0.0.1:${relay.publicAddress.port}` });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await peers.closeAll();
  await tx?.stop("SIGINT");
  await relay?.close();
});

describe("DTLS spoofing through the relay", () => {
  it("a cookie learnt at one address unlocks nothing for a forged victim (≤ 1x, item 1)", async () => {
    // A real ClientHello from a werift client (its first, cookieless one).
    const dtlsGate: Buffer[] = [];
    await call(dtlsGate);
    const firstHello = firstClientHello(dtlsGate)!;
    expect(firstHello).toBeDefined();

    // The attacker's own session, opened from its own address A; it never completes the handshake.
    const victimOffer = createTestClient();
    clients.push(victimOffer);
    const s = await post(await victimOffer.offer());
    const check = attackerCheck(s.ufrag, s.sdp);
    const attacker = await peer();
    let verifyRequest: Buffer | undefined;
    attacker.onDatagram = (d) => {
      if (handshakeType(d.msg) === 3) verifyRequest ??= d.msg;
    };
    const cookie = await learnCookie({
      send: (d) => attacker.send(d, relay.publicAddress),
      verifyRequest: () => verifyRequest,
      check: check(true),
      hello: firstHello,
      retryMs: 200,
    });

    // The forged part: a check and the ClientHello with A's cookie, "from" the victim V.
    const victim = await peer();
    const badCookiesBefore = relay.stats.drops["bad-cookie"] ?? 0;
    const forged = [check(false), withCookie(firstHello, cookie)];
    let sent = 0;
    for (const d of forged) {
      await victim.send(d, relay.publicAddress);
      sent += d.length;
    }
    // Either the relay refuses the cookie, or the victim gets more than it "sent" (the bug).
    await until(
      () => (relay.stats.drops["bad-cookie"] ?? 0) > badCookiesBefore || victim.bytes > sent,
      5000,
      "the relay to refuse the replayed cookie",
    );
    // The check's answer reaches V (it fits V's budget); nothing more does.
    await until(() => victim.packets >= 1, 5000, "the STUN answer to the victim");
    const amplification = victim.bytes / sent;
    console.log(
      `replayed cookie: victim got ${victim.packets} datagrams, ${victim.bytes} bytes for ${sent} forged (${amplification.toFixed(2)}x)`,
    );
    expect(victim.bytes).toBeLessThanOrEqual(sent);
    expect(relay.stats.drops["bad-cookie"]).toBe(badCookiesBefore + 1);
  });

  it("the transceiver itself accepts a cookie only from the address it was minted for", async () => {
    // Straight to the worker's socket, as a relay would send (or one that let the ClientHello through).
    const dtlsGate: Buffer[] = [];
    await call(dtlsGate);
    const firstHello = firstClientHello(dtlsGate)!;
    const offer = createTestClient();
    clients.push(offer);
    const s = await post(await offer.offer());
    const health = (await (await fetch(`${tx.url}/healthz`)).json()) as { workers: { endpoint: string }[] };
    const [address, port] = health.workers[0]!.endpoint.split(":");
    const worker = { address: address!, port: Number(port) };
    const A = { address: "203.0.113.7", port: 4000 };
    const V = { address: "198.51.100.9", port: 4000 };
    const fakeRelay = await peer();
    const toA: Buffer[] = [];
    const toV: Buffer[] = [];
    fakeRelay.onDatagram = (d) => {
      const payload = d.msg.subarray(ENCAP_V4_LEN);
      const header = d.msg.subarray(0, ENCAP_V4_LEN);
      if (header.equals(encapKeys.header(V.address, V.port))) toV.push(payload);
      else if (header.equals(encapKeys.header(A.address, A.port))) toA.push(payload);
    };
    const from = (c: { address: string; port: number }, payload: Buffer) =>
      fakeRelay.send(encapped(c.address, c.port, payload), worker);
    const check = attackerCheck(s.ufrag, s.sdp);
    const cookie = await learnCookie({
      send: (d) => from(A, d),
      verifyRequest: () => toA.find((d) => handshakeType(d) === 3),
      check: check(true),
      hello: firstHello,
      retryMs: 200,
    });
    const badBefore = await transceiverDrops("bad-cookie");
    let sent = 0;
    for (const d of [check(false), withCookie(firstHello, cookie)]) {
      await from(V, d);
      sent += d.length;
    }
    await until(() => toV.length >= 1, 5000, "the STUN answer to V");
    expect(await transceiverDrops("bad-cookie")).toBe(badBefore + 1);
    // From A, the cookie works: werift answers with its server flight (ServerHello first).
    await from(A, withCookie(firstHello, cookie));
    await until(() => toA.some((d) => handshakeType(d) === 2), 5000, "a ServerHello for A");
    const toVBytes = toV.reduce((n, d) => n + d.length, 0);
    expect(toV.every((d) => d[0]! < 4)).toBe(true); // STUN only, no DTLS
    expect(toVBytes).toBeLessThanOrEqual(sent);
  });

  it("a ClientHello or an alert forged to a live client's address leaves its call alone (item 2)", async () => {
    const dtlsGate: Buffer[] = [];
    const { client } = await call(dtlsGate);
    const hello = firstClientHello(dtlsGate)!;
    const dropsBefore = await transceiverDrops("renegotiation");
    const alertsBefore = await transceiverDrops("unauthenticated-alert");
    let stop = false;
    const streaming = (async () => {
      while (!stop) await client.sendAudio(5, 20);
    })();
    await until(() => client.received.length >= 10, 5000, "echoed audio before the spoof");
    await sendFromClient(client, hello);
    await sendFromClient(client, withCookie(hello, Buffer.alloc(20, 7)));
    // Alerts werift would close on: plaintext after the handshake, and made-up "ciphertext" at epoch 1.
    await sendFromClient(client, Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40]));
    await sendFromClient(client, Buffer.from([21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 99, 0, 2, 1, 0]));
    const at = client.received.length;
    await until(
      () => client.received.length >= at + 50,
      10_000,
      "50 more echoed packets after the spoof",
    ).finally(() => {
      stop = true;
    });
    await streaming;
    expect(client.received.length).toBeGreaterThanOrEqual(at + 50);
    expect(await transceiverDrops("renegotiation")).toBe(dropsBefore + 2);
    expect(await transceiverDrops("unauthenticated-alert")).toBe(alertsBefore + 2);
    // The data channel (SCTP over the same DTLS association) still works too.
    let echoed = "";
    client.channel.onMessage.subscribe((m) => {
      echoed = String(m);
    });
    client.channel.send("after");
    await until(() => echoed === "after", 5000, "the data channel's echo after the spoof");
  });
});
