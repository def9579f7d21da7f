/**
 * The upstream benches' setup: a relay and a transceiver in bridge mode with
 * the mock upstream and our backend protocol side by side, and bridged
 * sessions, POST /v1/sessions timed until the answer, then connected.
 */
import { startBackendServer } from "../../media/backend/server.ts";
import type { MockServer, UpstreamCall } from "../../test/support/mock-upstream.ts";
import { type SpawnedTransceiver, startRelayedTransceiver, txFetch } from "../../test/support/stack.ts";
import { createVoiceClient, type Json, type VoiceClient } from "../../test/support/voice-client.ts";
import { samples } from "./report.ts";

/**
 * A relay and a one-worker transceiver whose backends are the mock upstream
 * (as `model`) and the demo agent over our protocol (as "ours": the
 * reference in the same run); close() stops them and the mock.
 */
export async function startBridgeBench(
  mock: MockServer<UpstreamCall>,
  model: string,
): Promise<{ tx: SpawnedTransceiver; close(): Promise<void> }> {
  const backend = await startBackendServer({ host: "127.0.0.1", port: 0 });
  const relayed = await startRelayedTransceiver(1, {
    workers: 1,
    extraArgs: ["--backends", `${model}=${mock.url},ours=${backend.url}`],
    env: { OPENAI_API_KEY: "sk-bench" },
  });
  return {
    tx: relayed.tx,
    async close() {
      await relayed.close();
      await backend.close();
      await mock.close();
    },
  };
}

/** Setup times of `trials` sessions each with the upstream and with ours, alternating, each ended at once. */
export async function setupTimes(
  txUrl: string,
  trials: number,
  sessions: { upstream: Json; ours: Json },
  firstEvent: string,
): Promise<{ upstream: number[]; ours: number[] }> {
  const times = samples("upstream", "ours");
  for (let t = 0; t < trials; t++)
    for (const which of ["upstream", "ours"] as const) {
      const s = await timedSession(txUrl, sessions[which], firstEvent);
      times[which].push(s.setupMs);
      await endSession(txUrl, s);
    }
  return times;
}

export async function timedSession(
  txUrl: string,
  session: Json,
  firstEvent: string,
): Promise<{ vc: VoiceClient; id: string; setupMs: number }> {
  const vc = createVoiceClient();
  const sdp = await vc.offer();
  const t0 = performance.now();
  const res = await txFetch(`${txUrl}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sdp, session }),
  });
  const body = (await res.json()) as { sdp: string; id: string };
  const setupMs = performance.now() - t0;
  if (res.status !== 201) throw new Error(`session: ${res.status} ${JSON.stringify(body)}`);
  await vc.answer(body.sdp);
  await vc.ready();
  await vc.waitEvent(firstEvent);
  return { vc, id: body.id, setupMs };
}

/** Ends a bench session at the transceiver and closes its client. */
export async function endSession(txUrl: string, s: { vc: VoiceClient; id: string }): Promise<void> {
  await txFetch(`${txUrl}/v1/sessions/${s.id}`, { method: "DELETE" });
  await s.vc.close();
}
