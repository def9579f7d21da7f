/** Per-session call quality from RTCP, in the session listing and in /metrics. */
import { afterAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { relayedTransceiverForFile } from "../support/relayed-fixture.ts";
import { postSession, txFetch } from "../support/stack.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const fixture = relayedTransceiverForFile(4);
let client: TestClient;

afterAll(async () => {
  await client?.close();
});

describe("session quality", () => {
  it("reports inbound packets, loss and jitter per session and as metrics", async () => {
    client = createTestClient();
    const res = await postSession(fixture.tx.url, { sdp: await client.offer() });
    const { id, sdp } = (await res.json()) as { id: string; sdp: string };
    await client.answer(sdp);
    await client.connected();
    await client.sendAudio(30, 20);
    let info: SessionInfo | undefined;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      info = (await (await txFetch(`${fixture.tx.url}/v1/sessions/${id}`)).json()) as SessionInfo;
      if ((info.quality?.packetsReceived ?? 0) >= 30) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(info?.quality?.packetsReceived).toBe(30);
    expect(info?.quality?.packetsLost).toBe(0);
    expect(typeof info?.quality?.jitter).toBe("number");
    const metrics = await (await fetch(`${fixture.tx.url}/metrics`)).text();
    expect(metrics).toMatch(
      /voice_edge_transceiver_session_quality\{worker="0",stat="inbound_packets_received"\} 30/,
    );
    expect(metrics).toMatch(
      /voice_edge_transceiver_session_quality\{worker="0",stat="inbound_packets_lost"\} 0/,
    );
  });
});
