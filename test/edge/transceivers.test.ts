/**
 * The edge in workerd in front of real transceiver processes, two "regions"
 * on loopback: a real offer gets a real answer from the nearest region, the
 * call id hangs up the right session, and killing a region moves calls to the other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeHint, parseKeyring } from "../../shared/hint.ts";
import { API_KEY, type Edge, startEdge, TRANSCEIVER_TOKEN } from "./support/edge.ts";
import { CITY } from "./support/topology.ts";
import {
  createOfferer,
  HINT_KEYS,
  spawnTransceiver,
  type TransceiverProcess,
} from "./support/transceiver-process.ts";

const FRA_INGRESS = "127.0.0.1:3578";
const IAD_INGRESS = "127.0.0.1:3579";
let eu: TransceiverProcess;
let us: TransceiverProcess;
let edge: Edge;

beforeAll(async () => {
  [eu, us] = await Promise.all([
    spawnTransceiver(1, FRA_INGRESS, TRANSCEIVER_TOKEN),
    spawnTransceiver(2, IAD_INGRESS, TRANSCEIVER_TOKEN),
  ]);
  edge = await startEdge({
    config: {
      pools: [
        { id: 1, name: "eu-fra", region: "eu", latitude: 50.1109, longitude: 8.6821, endpoint: eu.endpoint },
        {
          id: 2,
          name: "us-iad",
          region: "us",
          latitude: 39.0438,
          longitude: -77.4874,
          endpoint: us.endpoint,
        },
      ],
      ingresses: [
        { id: "fra", latitude: 50.1109, longitude: 8.6821, address: FRA_INGRESS },
        { id: "iad", latitude: 39.0438, longitude: -77.4874, address: IAD_INGRESS },
      ],
      monitors: [{ id: "default", interval: 60, timeout: 2, consecutive_up: 1, consecutive_down: 1 }],
      forwarding: { attempt_timeout_ms: 5000, deadline_ms: 10_000 },
    },
  });
}, 60_000);

afterAll(async () => {
  await edge?.dispose();
  await Promise.all([eu?.kill(), us?.kill()]);
});

async function placeCall(cf: Record<string, string>) {
  const { pc, sdp } = await createOfferer();
  const r = await edge.fetch("/v1/realtime/calls", {
    method: "POST",
    body: sdp,
    cf,
    headers: { "content-type": "application/sdp", authorization: `Bearer ${API_KEY}` },
  });
  const answer = await r.text();
  return { pc, r, answer };
}

const ufragOf = (sdp: string) => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? "";
const sessionsOf = async (t: TransceiverProcess) => {
  const r = await fetch(`${t.endpoint}/v1/sessions`, {
    headers: { authorization: `Bearer ${TRANSCEIVER_TOKEN}` },
  });
  return ((await r.json()) as { sessions: unknown[] }).sessions.length;
};

describe("edge in front of real transceivers", () => {
  it("gets a real answer from the nearest region, advertising the nearest ingress, and hangs it up there", async () => {
    const { pc, r, answer } = await placeCall(CITY.berlin);
    try {
      expect(r.status).toBe(201);
      expect(r.headers.get("x-voice-edge-cluster")).toBe("1");
      expect(r.headers.get("x-voice-edge-ingress-address")).toBe(FRA_INGRESS);
      // The answer's ufrag is a routing hint for cluster 1, and it advertises the Frankfurt ingress.
      const hint = decodeHint(parseKeyring(HINT_KEYS), ufragOf(answer));
      expect(hint.ok && hint.hint.cluster).toBe(1);
      expect(answer).toMatch(/a=candidate:.* 127\.0\.0\.1 3578 typ/);
      await pc.setRemoteDescription({ type: "answer", sdp: answer }); // a WebRTC stack accepts it

      expect(await sessionsOf(eu)).toBe(1);
      const callId = r.headers.get("location")!.split("/").pop()!;
      const hung = await edge.fetch(`/v1/realtime/calls/${callId}/hangup`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(hung.status).toBe(200);
      expect(await sessionsOf(eu)).toBe(0);
    } finally {
      await pc.close();
    }
  });

  it("moves calls to the other region when one is killed", async () => {
    await edge.tick(Date.now());
    await eu.kill();

    const first = await placeCall(CITY.berlin);
    await first.pc.close();
    expect(first.r.status).toBe(201);
    expect(first.r.headers.get("x-voice-edge-cluster")).toBe("2");
    expect(first.r.headers.get("x-voice-edge-attempts")).toBe("2");
    // Still the ingress nearest the caller: relays route by the hint, whichever region holds the session.
    expect(first.answer).toMatch(/a=candidate:.* 127\.0\.0\.1 3578 typ/);
    const hint = decodeHint(parseKeyring(HINT_KEYS), ufragOf(first.answer));
    expect(hint.ok && hint.hint.cluster).toBe(2);

    // The next call skips the dead region at once; the Cron Trigger then marks it down.
    const second = await placeCall(CITY.berlin);
    await second.pc.close();
    expect(second.r.headers.get("x-voice-edge-attempts")).toBe("1");
    await edge.tick(Date.now() + 60_000);
    const health = await edge.fetch("/v1/edge/health", { headers: { authorization: `Bearer ${API_KEY}` } });
    const { pools } = (await health.json()) as {
      pools: Array<{ id: number; health: { healthy: boolean; sessions: number | null } }>;
    };
    expect(pools.map((p) => [p.id, p.health.healthy])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(pools[1]!.health.sessions).toBe(2);
  });
});
