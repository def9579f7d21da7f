/**
 * ICE restart through the relay: the client re-offers with new ICE
 * credentials, gets a new server ufrag (a new hint for the same worker), and
 * the call goes on; the old ufrag stays routable.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { decodeHint, parseKeyring } from "../../shared/hint.ts";
import { relayedTransceiverForFile } from "../support/relayed-fixture.ts";
import { postSession, TEST_KEYS, txFetch } from "../support/stack.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

const fixture = relayedTransceiverForFile(8);
let client: TestClient;

afterAll(async () => {
  await client?.close();
});

const json = { "content-type": "application/json" };
const roundTrip = (c: TestClient, text: string) =>
  new Promise<string>((resolve) => {
    const sub = c.channel.onMessage.subscribe((m) => {
      if (String(m) === text) {
        sub.unSubscribe();
        resolve(text);
      }
    });
    c.channel.send(text);
  });

describe("ICE restart", () => {
  it("answers a re-offer with a new hint ufrag and the call goes on", async () => {
    client = createTestClient();
    const res = await postSession(fixture.tx.url, { sdp: await client.offer() });
    const first = (await res.json()) as { id: string; sdp: string; ufrag: string };
    await client.answer(first.sdp);
    await client.connected();
    await client.channelOpen();
    expect(await roundTrip(client, "before")).toBe("before");

    let second: { ufrag: string; sdp: string } | undefined;
    await client.restartIce(async (offer) => {
      const r = await txFetch(`${fixture.tx.url}/v1/sessions/${first.id}/offer`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ sdp: offer }),
      });
      expect(r.status).toBe(200);
      second = (await r.json()) as { ufrag: string; sdp: string };
      return second.sdp;
    });
    expect(second!.ufrag).not.toBe(first.ufrag);
    expect(second!.sdp).toContain(`a=ice-ufrag:${second!.ufrag}`);
    const keys = parseKeyring(TEST_KEYS);
    const [a, b] = [decodeHint(keys, first.ufrag), decodeHint(keys, second!.ufrag)];
    expect(a.ok && b.ok && a.hint.transceiver).toEqual(b.ok && b.hint.transceiver);

    expect(await roundTrip(client, "after")).toBe("after");
    const before = client.received.length;
    await client.sendAudio(10, 20);
    const deadline = Date.now() + 5000;
    while (client.received.length < before + 10 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(client.received.length).toBeGreaterThanOrEqual(before + 10);
    const info = (await (await txFetch(`${fixture.tx.url}/v1/sessions/${first.id}`)).json()) as SessionInfo;
    expect(info.ufrag).toBe(second!.ufrag);
  });

  it("refuses a bad re-offer and unknown sessions", async () => {
    const list = (await (await txFetch(`${fixture.tx.url}/v1/sessions`)).json()) as {
      sessions: { id: string }[];
    };
    const id = list.sessions[0]!.id;
    const bad = await txFetch(`${fixture.tx.url}/v1/sessions/${id}/offer`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ sdp: "v=0" }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_offer");
    const gone = await txFetch(`${fixture.tx.url}/v1/sessions/w0_nosuchsession/offer`, {
      method: "POST",
      headers: { "content-type": "application/sdp" },
      body: "v=0",
    });
    expect(gone.status).toBe(404);
  });
});
