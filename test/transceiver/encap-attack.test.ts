/**
 * Issue #16, item 3, at a transceiver worker's socket: a sender that reaches
 * the socket (a pod in the namespace) but lacks the encapsulation key sends
 * encapsulated datagrams naming a live client while the call streams audio.
 * It must get none of the call's downlink and the call must go on.
 * The attacker's datagrams are raw bytes: the format from before
 * authentication (flags 0) and today's with guessed tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import { forgedHeaders } from "../support/forged-encap.ts";
import { startTestHost, startTestRelay } from "../support/stack.ts";
import { type Datagram, Peer, until } from "../support/udp.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const CLUSTER = 5;
let relay: Relay;
let host: SessionHost;
let client: TestClient;
let attacker: Peer;
const atAttacker: Datagram[] = [];

beforeAll(async () => {
  relay = await startTestRelay(CLUSTER);
  host = await startTestHost(relay, { cluster: CLUSTER });
  attacker = await Peer.open("127.0.0.1");
  attacker.onDatagram = (d) => atAttacker.push(d);
  client = createTestClient();
  const created = await host.createSession({ sdp: await client.offer() });
  await client.answer(created.sdp);
  await client.connected();
  await client.channelOpen();
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await relay?.close();
  await attacker?.close();
});

describe("transceiver worker socket: a sender without the encapsulation key", () => {
  it("gets none of a live call's downlink while the call streams audio, and the call goes on", async () => {
    // Every client address the session knows (werift checks from each of its candidates).
    const flows = [...host.demux.byClient.values()];
    expect(flows.length).toBeGreaterThan(0);
    for (const f of flows) expect(f.addr[0]).toBe("127.0.0.1");
    const relayPaths = flows.map((f) => [f.relayAddress, f.relayPort]);
    const worker = host.endpoint!;
    const drops = { ...host.demux.stats.drops };

    // SRTP-, DTLS- and STUN-looking payloads behind every forged header, sent the whole time
    // the client streams 50 audio packets: replies would follow whoever named the client last.
    const payloads = [
      Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2]),
      Buffer.from([23, 0xfe, 0xfd]),
      Buffer.alloc(20),
    ];
    let sent = 0;
    let streaming = true;
    const flood = (async () => {
      while (streaming) {
        for (const h of flows.flatMap((f) => forgedHeaders(f.addr[1])))
          for (const p of payloads) {
            await attacker.send(Buffer.concat([h, p]), worker);
            sent++;
          }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const echoed = client.received.length;
    await client.sendAudio(50, 20);
    await until(() => client.received.length >= echoed + 50, 10_000, "the 50 packets echoed");
    streaming = false;
    await flood;
    await until(
      () =>
        ["not-encapsulated", "bad-encap-token", "unknown-encap-key"].reduce(
          (n, r) => n + host.demux.stats.drops[r as keyof typeof drops] - drops[r as keyof typeof drops],
          0,
        ) === sent,
      2000,
      "every forged datagram to be dropped",
    );

    expect(sent).toBeGreaterThan(0);
    expect(atAttacker).toEqual([]);
    expect(flows.map((f) => [f.relayAddress, f.relayPort])).toEqual(relayPaths);
    const d = host.demux.stats.drops;
    expect(d["not-encapsulated"] - drops["not-encapsulated"]).toBe(sent / 3);
    expect(d["bad-encap-token"] - drops["bad-encap-token"]).toBe(sent / 3);
    expect(d["unknown-encap-key"] - drops["unknown-encap-key"]).toBe(sent / 3);
  });
});
