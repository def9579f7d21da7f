/** A bridged session for the upstream benches: POST /v1/sessions timed until the answer, then connected. */
import { txFetch } from "../../test/support/stack.ts";
import { createVoiceClient, type Json, type VoiceClient } from "../../test/support/voice-client.ts";

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
