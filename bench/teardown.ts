/**
 * Client close -> session gone: a werift client connects through a relay to a
 * transceiver process, then calls pc.close() (werift sends an SCTP ABORT);
 * the time until the session has left the transceiver's listing (GET
 * /v1/sessions/{id} answers 404), N calls in a row. Reference, same run: the
 * server ending the session itself (DELETE, answered once it is gone) and
 * the listing then polled the same way, i.e. what the API and the polling
 * cost without waiting for any client signal. Before the seam saw client
 * closes, each of these sessions lived until the 30 s silence timeout.
 *
 *   node bench/teardown.ts [--calls 40]
 */

import { parseArgs } from "node:util";
import { startRelayedTransceiver, txFetch } from "../test/support/stack.ts";
import { createTestClient, type TestClient } from "../test/support/werift-client.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "40" } } });
const CALLS = Number(values.calls);

const relayed = await startRelayedTransceiver(1, { workers: 1 });
const { tx } = relayed;

async function call(): Promise<{ client: TestClient; id: string }> {
  const client = createTestClient();
  const res = await txFetch(`${tx.url}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sdp: await client.offer() }),
  });
  const body = (await res.json()) as { id: string; sdp: string };
  await client.answer(body.sdp);
  await client.connected();
  await client.channelOpen();
  return { client, id: body.id };
}

/** Milliseconds from `t0` until the session has left the listing (polled back to back; 10 s bound). */
async function gone(id: string, t0: number): Promise<number> {
  while (performance.now() - t0 < 10_000) {
    const res = await txFetch(`${tx.url}/v1/sessions/${id}`);
    await res.arrayBuffer();
    if (res.status === 404) return performance.now() - t0;
  }
  throw new Error(`session ${id} still listed 10 s after the close`);
}

const byClient: number[] = [];
const byServer: number[] = [];
// The first call warms up the transceiver (certificate, JIT) and is not counted.
for (let i = 0; i <= CALLS; i++) {
  const a = await call();
  const t0 = performance.now();
  void a.client.close();
  const ms = await gone(a.id, t0);
  if (i > 0) byClient.push(ms);

  const b = await call();
  const t1 = performance.now();
  await txFetch(`${tx.url}/v1/sessions/${b.id}`, { method: "DELETE" });
  const ref = await gone(b.id, t1);
  if (i > 0) byServer.push(ref);
  await b.client.close();
}

const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
const [c, s] = [sorted(byClient), sorted(byServer)];
const p = (xs: number[], q: number) => percentile(xs, q);
report(
  "teardown",
  [
    ["calls (werift client)", CALLS],
    ["client pc.close() -> gone p50 / p99 (ms)", `${p(c, 50).toFixed(1)} / ${p(c, 99).toFixed(1)}`],
    ["reference: DELETE -> gone p50 / p99 (ms)", `${p(s, 50).toFixed(1)} / ${p(s, 99).toFixed(1)}`],
    [
      "ratio p50 / p99 (client / reference)",
      `${(p(c, 50) / p(s, 50)).toFixed(2)} / ${(p(c, 99) / p(s, 99)).toFixed(2)}`,
    ],
  ],
  {
    calls: CALLS,
    client: "werift",
    closeToGoneMs: { p50: p(c, 50), p99: p(c, 99) },
    referenceDeleteToGoneMs: { p50: p(s, 50), p99: p(s, 99) },
  },
);
await relayed.close();
process.exit(0);
