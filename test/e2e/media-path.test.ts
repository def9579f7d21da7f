/**
 * The whole media path with werift clients: client -> relay -> transceiver
 * and back, ICE, DTLS, SRTP audio and a data channel, many sessions on one
 * transceiver socket; and bad input that must not disturb live sessions.
 */
import { createSocket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import type { Health } from "../../media/transceiver/pool.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";
import { mintHint, parseKeyring } from "../../shared/hint.ts";
import { udpSocketsOf } from "../support/proc-sockets.ts";
import {
  postSession,
  type RelayedTransceiver,
  type SpawnedTransceiver,
  startRelayedTransceiver,
  TEST_KEYS,
  txFetch,
} from "../support/stack.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const CLUSTER = 3;
let relay: Relay;
let relayed: RelayedTransceiver | undefined;
let tx: SpawnedTransceiver;
const clients: TestClient[] = [];

async function call(): Promise<{ client: TestClient; id: string; ufrag: string }> {
  const client = createTestClient();
  clients.push(client);
  const res = await postSession(tx.url, { sdp: await client.offer() });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; sdp: string; ufrag: string };
  await client.answer(body.sdp);
  await client.connected();
  await client.channelOpen();
  return { client, id: body.id, ufrag: body.ufrag };
}

function roundTrip(client: TestClient, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sub = client.channel.onMessage.subscribe((m) => {
      if (String(m) === text) {
        sub.unSubscribe();
        resolve(String(m));
      }
    });
    client.channel.send(text);
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const health = async () => (await (await fetch(`${tx.url}/healthz`)).json()) as Health;

beforeAll(async () => {
  relayed = await startRelayedTransceiver(CLUSTER, { workers: 1 });
  ({ relay, tx } = relayed);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await relayed?.close();
});

describe("media path: werift client -> relay -> transceiver", () => {
  it("connects, round-trips the data channel and echoes audio both ways", async () => {
    const { client } = await call();
    expect(await roundTrip(client, "ping")).toBe("ping");
    await client.sendAudio(25, 20);
    await waitFor(() => client.received.length >= 25, "25 echoed audio packets");
    expect(client.received[0]!.payload.length).toBe(60);
    expect(relay.stats.flowsOpened).toBeGreaterThanOrEqual(1);
  });

  it("runs 20 concurrent sessions, all on the worker's one UDP socket", async () => {
    const calls = await Promise.all(Array.from({ length: 20 }, () => call()));
    const h = await health();
    expect(h.sessions).toBeGreaterThanOrEqual(20);
    const worker = h.workers[0]!;
    // Every session's hint names the same worker endpoint ...
    const keys = parseKeyring(TEST_KEYS);
    const { decodeHint } = await import("../../shared/hint.ts");
    const endpoints = new Set(
      calls.map((c) => {
        const r = decodeHint(keys, c.ufrag);
        return r.ok ? `${r.hint.transceiver.address}:${r.hint.transceiver.port}` : "bad";
      }),
    );
    expect([...endpoints]).toEqual([worker.endpoint]);
    // ... and that worker process owns exactly one UDP socket.
    expect(udpSocketsOf(worker.pid)).toHaveLength(1);
    const echoes = await Promise.all(calls.map((c, i) => roundTrip(c.client, `m${i}`)));
    expect(echoes).toEqual(calls.map((_, i) => `m${i}`));
    await Promise.all(calls.map((c) => c.client.sendAudio(10, 20)));
    await waitFor(
      () => calls.every((c) => c.client.received.length >= 10),
      "audio echoed on all 20 sessions",
    );
    // The clients leave (their close ends their sessions): nothing of theirs reaches the relay after this.
    await Promise.all(calls.map((c) => c.client.close()));
    const ids = new Set(calls.map((c) => c.id));
    await waitFor(async () => {
      const { sessions } = (await (await txFetch(`${tx.url}/v1/sessions`)).json()) as {
        sessions: { id: string }[];
      };
      return !sessions.some((s) => ids.has(s.id));
    }, "the 20 sessions to end");
  });

  it("drops bad input with a reason and a counter while a live session goes on", async () => {
    const { client, ufrag } = await call();
    const txDrops = async () => {
      const text = await (await fetch(`${tx.url}/metrics`)).text();
      const get = (reason: string) =>
        Number(new RegExp(`drops_total\\{worker="0",reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { integrity: get("bad-integrity"), ufrag: get("unknown-ufrag") };
    };
    const before = await txDrops();
    const relayDrops = { ...relay.stats.drops };
    const relayHints = { ...relay.stats.hintFailures };
    const attacker = createSocket("udp4");
    await new Promise<void>((r) => attacker.bind(0, "127.0.0.1", () => r()));
    const sendRaw = (b: Buffer) =>
      new Promise<void>((r) => attacker.send(b, relay.publicAddress.port, "127.0.0.1", () => r()));
    const h = await health();
    const [address, port] = h.workers[0]!.endpoint.split(":") as [string, string];
    const transceiver = { address, port: Number(port) };
    const unknownUfrag = mintHint(parseKeyring(TEST_KEYS), { cluster: CLUSTER, transceiver });
    const forgedHint = mintHint(parseKeyring(`7:${"00".repeat(24)}`), { cluster: CLUSTER, transceiver });
    const wrongPwd = buildBindingRequest({ username: `${ufrag}:evil`, password: "x".repeat(24) });

    await sendRaw(Buffer.from("garbage that is not stun")); // relay: not-stun
    await sendRaw(buildBindingRequest({ username: `${forgedHint}:evil`, password: "x".repeat(24) })); // relay: bad-hint
    await sendRaw(buildBindingRequest({ username: "shortufrag:evil", password: "x".repeat(24) })); // relay: bad-hint
    await sendRaw(wrongPwd.subarray(0, 30)); // relay: truncated STUN is not STUN
    await sendRaw(wrongPwd); // valid hint: forwarded; the transceiver refuses its integrity
    await sendRaw(buildBindingRequest({ username: `${unknownUfrag}:evil`, password: "x".repeat(24) })); // unknown session
    await waitFor(async () => {
      const now = await txDrops();
      return now.integrity > before.integrity && now.ufrag > before.ufrag;
    }, "the transceiver to drop the forged check and the unknown ufrag");
    expect(relay.stats.drops["not-stun"]).toBe(relayDrops["not-stun"] + 2);
    expect(relay.stats.drops["bad-hint"]).toBe(relayDrops["bad-hint"] + 2);
    expect(relay.stats.hintFailures["bad-tag"]).toBe(relayHints["bad-tag"] + 1);
    expect(relay.stats.hintFailures.length).toBe(relayHints.length + 1);
    attacker.close();
    // The live session is undisturbed.
    expect(await roundTrip(client, "still here")).toBe("still here");
  });
});
