/**
 * The peer with werift clients through a relay. Teardown both ways: a session
 * ends as soon as its client says it is leaving (however it says it), and a
 * client learns at once when the server ends its session (SCTP ABORT, DTLS
 * close_notify), long before its consent checks would fail. And RTP from an
 * SSRC the offer never named reaches the session's audio.
 */

import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import { transceiverMetrics } from "../../media/transceiver/metrics.ts";
import type { ClientCloseCause } from "../../media/transceiver/peer.ts";
import { TransceiverPool } from "../../media/transceiver/pool.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import { InProcessWorker } from "../../media/transceiver/worker-handle.ts";
import { startTestHost, startTestRelay } from "../support/stack.ts";
import { until as untilTrue } from "../support/udp.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const CLUSTER = 4;
/** Far beyond any wait below: a session these tests see end was not ended by silence. */
const SILENCE_MS = 60_000;
const WAIT_MS = 5_000;

interface Closed {
  session: string;
  call?: string;
  reason: string;
  cause?: ClientCloseCause;
}

let relay: Relay;
let host: SessionHost;
let metrics: ReturnType<typeof transceiverMetrics>;
const clients: TestClient[] = [];
/** "session closed" log lines, and who waits for which session. */
const closed = new Map<string, Closed>();
const waiting = new Map<string, (c: Closed) => void>();

function sessionClosed(id: string): Promise<Closed> {
  const seen = closed.get(id);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`session ${id} still open after ${WAIT_MS} ms`)),
      WAIT_MS,
    );
    waiting.set(id, (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
}

function until<T>(what: string, subscribe: (done: (v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
    subscribe((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

beforeAll(async () => {
  relay = await startTestRelay(CLUSTER);
  const log = pino(
    { level: "info" },
    {
      write(line: string) {
        const entry = JSON.parse(line) as Closed & { msg: string };
        if (entry.msg !== "session closed") return;
        closed.set(entry.session, entry);
        waiting.get(entry.session)?.(entry);
      },
    },
  );
  host = await startTestHost(relay, { cluster: CLUSTER, capacity: 50, silenceTimeoutMs: SILENCE_MS, log });
  metrics = transceiverMetrics(new TransceiverPool(CLUSTER, [new InProcessWorker(host)]));
});

/** A sample of the transceiver's /metrics text. */
async function metric(name: string, labels: string): Promise<number> {
  const text = await metrics.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`voice_edge_transceiver_${name}{${labels}} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await host?.close();
  await relay?.close();
});

/** An offer without a=ssrc lines (legal; GStreamer's webrtcbin sends such). */
const withoutSsrc = (sdp: string) => sdp.replace(/^a=ssrc(-group)?:.*\r?\n/gm, "");

async function call(
  o: { client?: TestClient; offer?: (sdp: string) => string } = {},
): Promise<{ client: TestClient; id: string }> {
  const client = o.client ?? createTestClient();
  clients.push(client);
  const offer = await client.offer();
  const created = await host.createSession({ sdp: o.offer ? o.offer(offer) : offer, callId: "rtc_teardown" });
  await client.answer(created.sdp);
  await client.connected();
  await client.channelOpen();
  return { client, id: created.id };
}

describe("teardown when the client leaves", () => {
  const cases: [string, ClientCloseCause, (c: TestClient) => Promise<void>][] = [
    ["pc.close() (werift sends an SCTP ABORT)", "sctp_abort", (c) => c.close()],
    ["closing the oai-events channel", "channel_closed", async (c) => c.channel.close()],
    ["a DTLS close_notify", "dtls_close_notify", (c) => c.sendDtlsAlert(1, 0)],
    ["a fatal DTLS alert (werift itself ignores those)", "dtls_alert", (c) => c.sendDtlsAlert(2, 80)],
    ["an SCTP SHUTDOWN", "sctp_shutdown", (c) => c.sendSctpShutdown()],
    ["an RTCP BYE for its audio", "rtcp_bye", (c) => c.sendRtcpBye()],
  ];
  for (const [how, cause, leave] of cases) {
    it(`ends the session at once on ${how}, counted and logged with call and session ids`, async () => {
      const { client, id } = await call();
      const labels = `worker="0",cause="${cause}"`;
      const before = await metric("client_closes_total", labels);
      await leave(client);
      const c = await sessionClosed(id);
      expect(c).toMatchObject({ session: id, call: "rtc_teardown", reason: "ended", cause });
      expect(host.sessions.has(id)).toBe(false);
      expect(await metric("client_closes_total", labels)).toBe(before + 1);
    });
  }
});

describe("teardown when the server ends the session", () => {
  it("tells the client at once: its SCTP association and channel close, and its DTLS gets a close_notify", async () => {
    const { client, id } = await call();
    const dtls = client.pc.dtlsTransports[0]!;
    const channelClosed = until<void>("the client's channel to close", (done) =>
      client.channel.stateChanged.subscribe((s) => s === "closed" && done()),
    );
    const dtlsClosed = until<void>("the client's DTLS transport to close", (done) =>
      dtls.onStateChange.subscribe((s) => s === "closed" && done()),
    );
    const sentBefore = host.socket.stats.sent;
    expect(await host.endSession(id)).toBe(true);
    await channelClosed;
    await dtlsClosed;
    // The goodbye left through the worker's socket after the session was marked closed.
    expect(host.socket.stats.sent).toBeGreaterThan(sentBefore);
    // Our own goodbye is not taken for the client's.
    const c = await sessionClosed(id);
    expect(c.reason).toBe("ended");
    expect(c.cause).toBeUndefined();
  });
});

describe("what an ended session frees on the relay", () => {
  it("its flow goes the moment the session ends, whoever ends it, long before the idle timeout", async () => {
    for (const end of [
      (_c: TestClient, id: string) => host.endSession(id).then(() => undefined),
      (c: TestClient) => c.close(),
    ]) {
      const { client, id } = await call();
      const [flows, ended] = [relay.flows.size, relay.stats.flowsEnded];
      await end(client, id);
      await sessionClosed(id);
      await untilTrue(() => relay.stats.flowsEnded === ended + 1, WAIT_MS, "the relay to end the flow");
      expect(relay.flows.size).toBe(flows - 1);
    }
  });
});

describe("RTP from an SSRC the offer never named", () => {
  it("reaches the session's audio (echo) when the offer has one audio m-line", async () => {
    const before = { ...(await host.stats()).unsignalledRtp };
    const { client, id } = await call({ offer: withoutSsrc });
    await client.sendAudio(10, 20);
    await until<void>("echoed audio", (done) => {
      const check = () => (client.received.length >= 10 ? done() : setTimeout(check, 20));
      check();
    });
    const info = (await host.list()).find((s) => s.id === id)!;
    expect(info.echo.rtpIn).toBeGreaterThanOrEqual(10);
    const after = (await host.stats()).unsignalledRtp;
    expect(after.ssrcsRouted).toBe(before.ssrcsRouted + 1);
    expect(after.packetsDropped).toBe(before.packetsDropped);
  });

  it("is dropped, and counted, when two audio m-lines could take it and no MID says which", async () => {
    const client = createTestClient();
    client.pc.addTransceiver("audio", { direction: "sendrecv" });
    const before = { ...(await host.stats()).unsignalledRtp };
    const { id } = await call({ client, offer: withoutSsrc });
    await client.sendAudio(5, 20);
    await until<void>("dropped packets to be counted", (done) => {
      const check = async () =>
        (await host.stats()).unsignalledRtp.packetsDropped >= before.packetsDropped + 5
          ? done()
          : setTimeout(check, 20);
      void check();
    });
    const info = (await host.list()).find((s) => s.id === id)!;
    expect(info.echo.rtpIn).toBe(0);
    expect((await host.stats()).unsignalledRtp.ssrcsRouted).toBe(before.ssrcsRouted);
  });
});
