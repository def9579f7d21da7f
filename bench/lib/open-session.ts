/** A werift client's session opened through a transceiver's API (POST /v1/sessions), timed to connected. */
import { txFetch } from "../../test/support/stack.ts";
import {
  createTestClient,
  type TestClient,
  type TestClientOptions,
} from "../../test/support/werift-client.ts";

export interface OpenedSession {
  client: TestClient;
  id: string;
  /** Offer posted -> the client's DTLS connected, ms. */
  ms: number;
}

/** A werift client's session on the transceiver at `txUrl`, connected. */
export async function openSession(txUrl: string, options: TestClientOptions = {}): Promise<OpenedSession> {
  const client = createTestClient(options);
  const offer = await client.offer();
  const t0 = performance.now();
  const res = await txFetch(`${txUrl}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sdp: offer }),
  });
  if (res.status !== 201) throw new Error(`session create: ${res.status} ${await res.text()}`);
  const { sdp, id } = (await res.json()) as { sdp: string; id: string };
  await client.answer(sdp);
  await client.connected();
  return { client, id, ms: performance.now() - t0 };
}
