/**
 * NAT rebinding through the whole stack: client -> impairer -> ingress ->
 * cluster relay -> transceiver (echo). The impairer moves a client to a new
 * source port mid-call; the client's next consent check from there opens a
 * new flow, the transceiver moves the session once that check is
 * authenticated, and the call goes on. A "rebinding" from an address without
 * the session's credentials is dropped and counted, and disturbs nothing.
 * And a browser's ICE restart after a network change, re-posted to the call
 * through the edge.
 */
import { createSocket } from "node:dgram";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Impairer } from "../../media/impair/impairer.ts";
import type { Relay } from "../../media/relay/server.ts";
import type { RunningStack } from "../../media/stack/main.ts";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";
import { chromiumMissing, withChromiumTab } from "../support/chromium.ts";
import {
  callSamples,
  endChromiumCall,
  longestAudioGap,
  openCallPage,
  packetsSince,
  pageNow,
  restartChromiumIce,
  startChromiumCall,
} from "../support/chromium-call.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { longestSilence, openEdgeCall, StreamedCalls, waitUntil } from "../support/relay-harness.ts";
import { txFetch } from "../support/stack.ts";
import { LO } from "../support/udp.ts";

const skipBrowser = chromiumMissing();
let stack: RunningStack;
let impairer: Impairer;
let ingress: Relay;
const streamed = new StreamedCalls();
const calls = streamed.calls;

beforeAll(async () => {
  stack = await startLoopbackStack(
    [await loopbackRegion("aa", 61, { impair: true })],
    // In this process: the test reads the ingress's flow table.
    { backend: "echo", relayProcesses: 0 },
  );
  impairer = stack.impairers[0]!;
  ingress = stack.relays[0]!;
});

afterAll(async () => {
  await streamed.close();
  await stack?.close();
});

const tx = () => stack.transceivers[0]!.url;
/** Waits until the page's call has received more than 25 audio packets since page time `since` (by default: ever). */
const heardAudio = (page: Page, ms: number, what: string, since?: number) =>
  waitUntil(async () => packetsSince(await callSamples(page), since) > 25, ms, what);
async function sessions(): Promise<SessionInfo[]> {
  const r = await txFetch(`${tx()}/v1/sessions`, {}, stack.token);
  return ((await r.json()) as { sessions: SessionInfo[] }).sessions;
}
async function drops(reason: string): Promise<number> {
  const text = await (await txFetch(`${tx()}/metrics`, {}, stack.token)).text();
  const re = new RegExp(`^voice_edge_transceiver_drops_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`, "gm");
  let n = 0;
  for (const m of text.matchAll(re)) n += Number(m[1]);
  return n;
}
/** The session of a call, by its server ufrag or its id. */
async function sessionOf(o: { ufrag?: string; id?: string }): Promise<SessionInfo> {
  const s = (await sessions()).find((x) => x.ufrag === o.ufrag || x.id === o.id);
  if (!s) throw new Error(`no session ${JSON.stringify(o)}`);
  return s;
}
const addr = (f: { address: string; port: number }) => `${f.address}:${f.port}`;

describe("NAT rebinding", () => {
  it("a werift client moved to a new source port keeps its call; the session follows the authenticated check", async () => {
    const call = await openEdgeCall(stack.edge!.url);
    calls.push(call);
    // The edge advertised the impairer, not the ingress.
    expect(call.remotePort()).toBe(impairer.address.port);
    streamed.stream();
    await waitUntil(() => call.arrivals.length >= 20, 10_000, "echoed audio");
    const before = await sessionOf({ ufrag: call.ufrag });
    const [bound] = impairer.clients().filter((c) => c.client === `${LO}:${call.localPort()}`);
    expect(before.client).toBe(bound!.upstream);
    const opened = ingress.stats.flowsOpened;

    const at = Date.now();
    const [moved] = await impairer.rebind(bound!.client);
    expect(moved!.upstream).not.toBe(bound!.upstream);
    // werift checks consent every 4-6 s: the first check from the new port opens the new flow.
    await waitUntil(() => call.arrivals.some((t) => t > at + 200), 15_000, "audio after the rebinding");
    await waitUntil(
      async () => (await sessionOf(before)).client === moved!.upstream,
      5000,
      "the session to move",
    );
    const after = await sessionOf(before);
    expect(after.id).toBe(before.id);
    expect(ingress.stats.flowsOpened).toBe(opened + 1);
    // The old flow is still in the ingress's table (it idles out after --idle-timeout), the new one beside it.
    const flows = [...ingress.flows.flows()].map(addr);
    expect(flows).toContain(moved!.upstream);
    expect(flows).toContain(bound!.upstream);
    // The new flow saw no DTLS ClientHello: it stays unverified, bytes out never above bytes in.
    const fresh = [...ingress.flows.flows()].find((f) => addr(f) === moved!.upstream)!;
    expect(fresh.budget.verified).toBe(false);
    expect(fresh.budget.sent).toBeLessThanOrEqual(fresh.budget.received);
    const end = Date.now();
    await waitUntil(() => call.arrivals.filter((t) => t > end).length >= 25, 5000, "steady audio after");
    const [gap] = longestSilence([call], at - 100, Date.now());
    console.log(`werift rebinding: audio gap ${gap} ms`);
    await streamed.close();
  });

  it("a rebinding from an address without the session's credentials is dropped and counted; the call goes on", async () => {
    const call = await openEdgeCall(stack.edge!.url);
    calls.push(call);
    streamed.stream();
    await waitUntil(() => call.arrivals.length >= 10, 10_000, "echoed audio");
    const live = await sessionOf({ ufrag: call.ufrag });
    const attacker = createSocket("udp4");
    await new Promise<void>((r) => attacker.bind(0, LO, () => r()));
    let heard = 0;
    attacker.on("message", () => heard++);
    const target = impairer.address;
    const badBefore = await drops("bad-integrity");
    const notStun = ingress.stats.drops["not-stun"];
    try {
      // Media from a new address without a check: the ingress has no flow for it.
      attacker.send(
        Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4, 9, 9, 9, 9]),
        target.port,
        target.address,
      );
      // A check with the session's (public) ufrag but not its password.
      const username = `${live.ufrag}:evil`;
      for (let i = 0; i < 3; i++)
        attacker.send(
          buildBindingRequest({ username, password: "not-the-password", useCandidate: true }),
          target.port,
          target.address,
        );
      await waitUntil(
        async () => (await drops("bad-integrity")) >= badBefore + 3,
        5000,
        "bad-integrity drops",
      );
      await waitUntil(() => ingress.stats.drops["not-stun"] > notStun, 5000, "the media to be dropped");
      // The forged check opened an ingress flow (its hint is authentic), so media from there now reaches
      // the transceiver, which drops it: the address never passed an authenticated check.
      const unknownBefore = await drops("unknown-client");
      attacker.send(
        Buffer.from([0x80, 111, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 9, 9, 9, 9]),
        target.port,
        target.address,
      );
      await waitUntil(
        async () => (await drops("unknown-client")) > unknownBefore,
        5000,
        "unknown-client drops",
      );
      const t = Date.now();
      await waitUntil(() => call.arrivals.filter((x) => x > t).length >= 25, 5000, "audio going on");
      const now = await sessionOf(live);
      expect(now.id).toBe(live.id);
      expect(now.client).toBe(live.client);
      // Nothing was ever sent to the attacker's address.
      expect(heard).toBe(0);
    } finally {
      attacker.close();
      await streamed.close();
    }
  });

  it.skipIf(skipBrowser)("a Chromium call survives a rebinding; the session moves", async () => {
    await withChromiumTab(async (page) => {
      await openCallPage(page, stack.edge!.url);
      const knownClients = new Set(impairer.clients().map((c) => c.client));
      const knownSessions = new Set((await sessions()).map((s) => s.id));
      const call = await startChromiumCall(page, { edgeUrl: stack.edge!.url });
      expect(call.callId).not.toBe("");
      await heardAudio(page, 10_000, "audio");
      const before = (await sessions()).find((s) => !knownSessions.has(s.id))!;
      expect(before.state).toBe("connected");
      const mine = impairer.clients().filter((c) => !knownClients.has(c.client));
      expect(mine.map((c) => c.upstream)).toContain(before.client);
      const at = await pageNow(page);
      const moved = await impairer.rebind(mine.find((c) => c.upstream === before.client)!.client);
      await waitUntil(
        async () => (await sessionOf(before)).client === moved[0]!.upstream,
        15_000,
        "the session to move",
      );
      const movedAt = await pageNow(page);
      await heardAudio(page, 5000, "audio after the move", movedAt);
      const samples = await callSamples(page);
      expect(samples.at(-1)!.connectionState).toBe("connected");
      expect((await sessionOf(before)).state).toBe("connected");
      console.log(
        `chromium rebinding: audio gap ${longestAudioGap(samples, at - 100, samples.at(-1)!.t).toFixed(0)} ms`,
      );
      await endChromiumCall(page);
    });
  });

  it.skipIf(skipBrowser)(
    "Chromium restarts ICE through the edge (pc.restartIce(), re-POST to the call) and the call goes on",
    async () => {
      await withChromiumTab(async (page) => {
        await openCallPage(page, stack.edge!.url);
        const knownSessions = new Set((await sessions()).map((s) => s.id));
        await startChromiumCall(page, { edgeUrl: stack.edge!.url });
        await heardAudio(page, 10_000, "audio");
        const before = (await sessions()).find((s) => !knownSessions.has(s.id))!;
        const ufrag = await restartChromiumIce(page);
        expect(ufrag).not.toBe(before.ufrag);
        await waitUntil(async () => (await sessionOf(before)).ufrag === ufrag, 10_000, "the new ufrag");
        const t = await pageNow(page);
        await heardAudio(page, 5000, "audio after the restart", t);
        expect((await callSamples(page)).at(-1)!.connectionState).toBe("connected");
        const after = await sessionOf(before);
        expect(after.state).toBe("connected");
        expect(after.id).toBe(before.id);
        await endChromiumCall(page);
      });
    },
  );
});
