/**
 * The sideband (issue #12): a werift client on a call through `voice-edge
 * stack` (edge in Miniflare, relays, a transceiver host with one forked worker)
 * and the app server's sideband WebSocket through the edge.
 *
 * - Attach time: upgrade request -> first event (session.created), through the
 *   edge; reference in the same run: straight at the transceiver's
 *   /v1/sessions/{id}/sideband (no Worker hop).
 * - Event latency: the client sends a client event every 20 ms on its data
 *   channel; the backend answers each with one server event, which arrives on
 *   the data channel and on the sideband (matched by event_id). Reported: send
 *   -> arrival on each, and sideband minus data channel per event.
 *
 *   node bench/sideband.ts [--attaches 30] [--events 200]
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import WebSocket, { WebSocketServer } from "ws";
import { sidebandPath } from "../shared/session-api.ts";
import { loopbackRegion, startLoopbackStack } from "../test/support/loopback-region.ts";
import { createVoiceClient, epochMs, type Json } from "../test/support/voice-client.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({
  options: { attaches: { type: "string", default: "30" }, events: { type: "string", default: "200" } },
});
// The table is the output: the stack's info logs would bury it.
process.env.VOICE_EDGE_LOG_LEVEL ??= "warn";
const ATTACHES = Number(values.attaches);
const EVENTS = Number(values.events);
const KEY = "sk-voice-edge-dev-key";

// A backend (our protocol) that answers every conversation.item.create with one server event.
const http = createServer();
const backend = new WebSocketServer({ server: http, perMessageDeflate: false });
backend.on("connection", (ws) =>
  ws.on("message", (data, binary) => {
    if (binary) return;
    const e = JSON.parse(String(data)) as Json;
    if (e.type === "conversation.item.create")
      ws.send(JSON.stringify({ type: "conversation.item.created", item: e.item }));
  }),
);
await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
const backendUrl = `ws://127.0.0.1:${(http.address() as { port: number }).port}/`;

const stack = await startLoopbackStack([await loopbackRegion("eu", 41)], {
  relayProcesses: 1,
  backend: `default=${backendUrl},*=${backendUrl}`,
});
const edgeUrl = stack.edge!.url;
const txUrl = stack.transceivers[0]!.url;

const vc = createVoiceClient();
const res = await fetch(`${edgeUrl}/v1/realtime/calls`, {
  method: "POST",
  headers: { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" },
  body: await vc.offer(),
});
if (res.status !== 201) throw new Error(`call: HTTP ${res.status} ${await res.text()}`);
const callId = res.headers.get("location")!.split("/").at(-1)!;
await vc.answer(await res.text());
await vc.ready();
await vc.waitEvent("session.created");
const sessionId = (
  (await (
    await fetch(`${txUrl}/v1/sessions`, { headers: { authorization: `Bearer ${stack.token}` } })
  ).json()) as {
    sessions: { id: string }[];
  }
).sessions[0]!.id;

/** Opens a sideband; resolves with the socket and ms from the upgrade request to its first event. */
function attach(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket; ms: number } | undefined> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once("message", () => resolve({ ws, ms: performance.now() - t0 }));
    ws.once("unexpected-response", (_q, r) => {
      r.resume();
      resolve(undefined); // 409: the previous one's slot is not free yet
    });
    ws.once("error", reject);
  });
}

async function attachTimes(url: string, headers: Record<string, string>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i <= ATTACHES; i++) {
    let a = await attach(url, headers);
    while (!a) {
      await new Promise((r) => setTimeout(r, 20));
      a = await attach(url, headers);
    }
    if (i > 0) out.push(a.ms); // the first warms up
    const closed = new Promise((r) => a!.ws.once("close", r));
    a.ws.close();
    await closed;
  }
  return out;
}

const viaEdge = await attachTimes(`${edgeUrl.replace(/^http/, "ws")}/v1/realtime?call_id=${callId}`, {
  authorization: `Bearer ${KEY}`,
});
const direct = await attachTimes(`${txUrl.replace(/^http/, "ws")}${sidebandPath(sessionId)}`, {
  authorization: `Bearer ${stack.token}`,
});

// Event latency: one sideband through the edge, the client's channel, the same events on both.
let sb = await attach(`${edgeUrl.replace(/^http/, "ws")}/v1/realtime?call_id=${callId}`, {
  authorization: `Bearer ${KEY}`,
});
while (!sb)
  sb = await attach(`${edgeUrl.replace(/^http/, "ws")}/v1/realtime?call_id=${callId}`, {
    authorization: `Bearer ${KEY}`,
  });
const onSideband = new Map<string, { at: number; item: string }>();
sb.ws.on("message", (d) => {
  const e = JSON.parse(String(d)) as Json;
  if (e.type === "conversation.item.created")
    onSideband.set(e.event_id as string, { at: epochMs(), item: (e.item as Json).id as string });
});
const sentAt = new Map<string, number>();
const from = vc.events.length;
for (let i = 0; i < EVENTS; i++) {
  const id = `item_${i}`;
  sentAt.set(id, epochMs());
  vc.send({ type: "conversation.item.create", item: { id, type: "message", role: "user", content: [] } });
  await new Promise((r) => setTimeout(r, 20));
}
await vc.until(
  () => vc.events.slice(from).filter((e) => e.event.type === "conversation.item.created").length >= EVENTS,
  "every answer on the data channel",
  20_000,
);
const deadline = Date.now() + 5000;
while (onSideband.size < EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));

const toChannel: number[] = [];
const toSideband: number[] = [];
const skew: number[] = [];
let missing = 0;
for (const r of vc.events.slice(from)) {
  if (r.event.type !== "conversation.item.created") continue;
  const item = (r.event.item as Json).id as string;
  const s = onSideband.get(r.event.event_id as string);
  const t = sentAt.get(item)!;
  toChannel.push(r.at - t);
  if (!s) {
    missing++;
    continue;
  }
  toSideband.push(s.at - t);
  skew.push(s.at - r.at);
}

const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
const [e, d, c, s, k] = [viaEdge, direct, toChannel, toSideband, skew].map(sorted) as [
  number[],
  number[],
  number[],
  number[],
  number[],
];
const p = (xs: number[], q: number) => percentile(xs, q);
const pair = (xs: number[]) => `${p(xs, 50).toFixed(2)} / ${p(xs, 99).toFixed(2)}`;
report(
  "sideband",
  [
    ["attaches (each way)", ATTACHES],
    ["attach via edge: upgrade -> first event p50 / p99 (ms)", pair(e)],
    ["reference, straight at the transceiver p50 / p99 (ms)", pair(d)],
    ["ratio p50 (edge / direct)", (p(e, 50) / p(d, 50)).toFixed(2)],
    ["server events (one per client event, 20 ms apart)", EVENTS],
    ["client send -> data channel p50 / p99 (ms)", pair(c)],
    ["client send -> sideband (via edge) p50 / p99 (ms)", pair(s)],
    ["sideband minus data channel, same event p50 / p99 (ms)", pair(k)],
    ["events missing on the sideband", missing],
  ],
  {
    attaches: ATTACHES,
    attachViaEdgeMs: { p50: p(e, 50), p99: p(e, 99) },
    attachDirectMs: { p50: p(d, 50), p99: p(d, 99) },
    events: EVENTS,
    sendToChannelMs: { p50: p(c, 50), p99: p(c, 99) },
    sendToSidebandMs: { p50: p(s, 50), p99: p(s, 99) },
    sidebandMinusChannelMs: { p50: p(k, 50), p99: p(k, 99) },
    missing,
  },
);
sb.ws.close();
await vc.close();
await stack.close();
backend.close();
http.close();
process.exit(0);
