/**
 * The transceiver's media socket on each UDP I/O backend: node:dgram and the
 * batched addon (recvmmsg/sendmmsg, sends queued and flushed per batch or
 * per loop turn). A werift call through a relay must connect, echo its audio
 * and carry the data channel the same on both. In CI the addon must be built.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import { loadUdpBatch } from "../../media/udp-batch/batch-socket.ts";
import { startTestHost, startTestRelay } from "../support/stack.ts";
import { until } from "../support/udp.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const batchMissing = loadUdpBatch() instanceof Error && process.env.CI !== "true";
const CLUSTER = 6;
let relay: Relay | undefined;
let host: SessionHost | undefined;
let clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  clients = [];
  await host?.close();
  await relay?.close();
});

describe.each([
  ["dgram", false],
  ["batch", batchMissing],
] as const)("media socket on %s", (io, skip) => {
  it.skipIf(skip)("connects calls, opens their data channels and echoes their audio", async () => {
    relay = await startTestRelay(CLUSTER);
    host = await startTestHost(relay, { cluster: CLUSTER, io });
    clients = [createTestClient(), createTestClient(), createTestClient()];
    for (const c of clients) {
      const created = await host.createSession({ sdp: await c.offer() });
      await c.answer(created.sdp);
    }
    await Promise.all(clients.map((c) => c.connected()));
    await Promise.all(clients.map((c) => c.channelOpen()));
    const sent0 = host.socket.stats.sent;
    // All three at once, so the batched socket sees datagrams of several sessions per batch.
    await Promise.all(clients.map((c) => c.sendAudio(50, 20)));
    await until(() => clients.every((c) => c.received.length >= 45), 10_000, "audio echoed to every client");
    const stats = host.socket.stats;
    expect(stats.sent - sent0).toBeGreaterThanOrEqual(3 * 45);
    expect(stats.sendErrors).toBe(0);
  });
});
