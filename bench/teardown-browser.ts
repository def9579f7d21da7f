/**
 * Teardown with real browsers, both ways, N calls per browser:
 *  - client pc.close() -> session gone from the transceiver's listing
 *    (GET /v1/sessions/{id} answers 404), for headless Chromium and Firefox ESR;
 *  - server hangup (DELETE /v1/sessions/{id}, what the edge's
 *    /v1/realtime/calls/{id}/hangup forwards) -> the browser sees the call end
 *    (its `oai-events` channel closes or its connection leaves "connected",
 *    whichever comes first), timed on the machine's one clock.
 * Reference, same run: DELETE -> gone, what the API and the polling cost alone.
 *
 *   node bench/teardown-browser.ts [--calls 20]
 */

import { parseArgs } from "node:util";
import { chromiumMissing, launchChromium } from "../test/support/chromium.ts";
import { firefoxMissing, launchFirefox } from "../test/support/firefox.ts";
import { startOfferPage } from "../test/support/offer-page.ts";
import { startRelayedTransceiver, txFetch } from "../test/support/stack.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "20" } } });
const CALLS = Number(values.calls);

/** What playwright's and puppeteer's pages have in common. */
interface Tab {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}

/** The page's side; runs in the browser, so it is self-contained. */
const PAGE = `
  window.voice = {
    async open() {
      this.stream ??= await navigator.mediaDevices.getUserMedia({ audio: true });
      const pc = new RTCPeerConnection();
      for (const t of this.stream.getTracks()) pc.addTrack(t, this.stream);
      const channel = pc.createDataChannel("oai-events");
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch("/offer", { method: "POST", body: pc.localDescription.sdp });
      const { id, sdp } = await res.json();
      const up = new Promise((r) => { pc.onconnectionstatechange = () => pc.connectionState === "connected" && r(); });
      const open = new Promise((r) => channel.addEventListener("open", () => r()));
      await pc.setRemoteDescription({ type: "answer", sdp });
      await Promise.all([up, open]);
      this.pc = pc;
      this.ended = new Promise((r) => {
        const at = (how) => () => r({ at: performance.timeOrigin + performance.now(), how });
        channel.addEventListener("close", at("channel closed"));
        pc.addEventListener("connectionstatechange", () => pc.connectionState !== "connected" && at(pc.connectionState)());
      });
      return id;
    },
    close() { this.pc.close(); },
  };
`;

const now = () => performance.timeOrigin + performance.now();

const relayed = await startRelayedTransceiver(1, { workers: 1 });
const { tx } = relayed;
const page = await startOfferPage(tx.url, { html: `<!doctype html><script>${PAGE}</script>` });

/** Milliseconds from `t0` (epoch ms) until the session has left the listing (10 s bound). */
async function gone(id: string, t0: number): Promise<number> {
  while (now() - t0 < 10_000) {
    const res = await txFetch(`${tx.url}/v1/sessions/${id}`);
    await res.arrayBuffer();
    if (res.status === 404) return now() - t0;
  }
  throw new Error(`session ${id} still listed 10 s after the close`);
}

interface Runs {
  closeToGone: number[];
  hangupToClient: number[];
  deleteToGone: number[];
  how: Record<string, number>;
}

async function measure(tab: Tab): Promise<Runs> {
  const runs: Runs = { closeToGone: [], hangupToClient: [], deleteToGone: [], how: {} };
  const open = () =>
    tab.evaluate(() => (window as unknown as { voice: { open(): Promise<string> } }).voice.open(), 0);
  // The first round warms up the transceiver (certificate, JIT) and the browser; not counted.
  for (let i = 0; i <= CALLS; i++) {
    const a = await open();
    const t0 = now();
    await tab.evaluate(() => (window as unknown as { voice: { close(): void } }).voice.close(), 0);
    const closed = await gone(a, t0);

    const b = await open();
    const t1 = now();
    await txFetch(`${tx.url}/v1/sessions/${b}`, { method: "DELETE" });
    const deleted = await gone(b, t1);
    const seen = await tab.evaluate(
      () => (window as unknown as { voice: { ended: Promise<{ at: number; how: string }> } }).voice.ended,
      0,
    );
    await tab.evaluate(() => (window as unknown as { voice: { close(): void } }).voice.close(), 0);
    if (i === 0) continue;
    runs.closeToGone.push(closed);
    runs.deleteToGone.push(deleted);
    runs.hangupToClient.push(seen.at - t1);
    runs.how[seen.how] = (runs.how[seen.how] ?? 0) + 1;
  }
  return runs;
}

const results: Record<string, Runs> = {};
if (!chromiumMissing()) {
  const chromium = await launchChromium();
  const tab = await chromium.context.newPage();
  await tab.goto(page.url);
  results.chromium = await measure(tab);
  await chromium.close();
}
if (!firefoxMissing()) {
  const firefox = await launchFirefox();
  const tab = await firefox.browser.newPage();
  await tab.goto(page.url);
  results.firefox = await measure(tab as unknown as Tab);
  await firefox.close();
}

const q = (xs: number[], p: number) =>
  percentile(
    [...xs].sort((x, y) => x - y),
    p,
  );
const pair = (xs: number[]) => `${q(xs, 50).toFixed(1)} / ${q(xs, 99).toFixed(1)}`;
const rows: [string, string | number][] = [["calls per browser", CALLS]];
const json: Record<string, unknown> = { calls: CALLS };
for (const [browser, r] of Object.entries(results)) {
  rows.push(
    [`${browser}: pc.close() -> gone p50 / p99 (ms)`, pair(r.closeToGone)],
    [`${browser}: hangup -> client sees it p50 / p99 (ms)`, pair(r.hangupToClient)],
    [`${browser}: reference DELETE -> gone p50 / p99 (ms)`, pair(r.deleteToGone)],
    [`${browser}: how the client saw the hangup`, JSON.stringify(r.how)],
  );
  json[browser] = {
    closeToGoneMs: { p50: q(r.closeToGone, 50), p99: q(r.closeToGone, 99) },
    hangupToClientMs: { p50: q(r.hangupToClient, 50), p99: q(r.hangupToClient, 99) },
    referenceDeleteToGoneMs: { p50: q(r.deleteToGone, 50), p99: q(r.deleteToGone, 99) },
    hangupSeenAs: r.how,
  };
}
report("teardown-browser", rows, json);
page.close();
await relayed.close();
process.exit(0);
