/**
 * Calls through impaired networks: headless Chromium (fake microphone) ->
 * impairer -> ingress -> cluster relay -> transceiver (echo) and back, the
 * whole stack (`startStack`, one region whose `impair` option puts the
 * impairer in front of the ingress; the edge advertises it).
 *
 *   node bench/impairment.ts [--profiles clean,loss2,...,tcp-clean,tcp-loss2,...]
 *                            [--setups 10] [--calls 2] [--hold 6]
 *
 * The tcp-* profiles run the same calls over ICE-TCP: a second stack (started after the UDP
 * profiles are done) whose answers offer only the TCP candidate (topology tcpOnly), that of the
 * impairer's TCP mode in front of the ingress's ICE-TCP port (region impair.tcpPort); frames are
 * lost whole, delayed in order. tcp-clean is their reference.
 *
 * Per profile (applied both ways, so echoed audio crosses it twice):
 * - setup: `--setups` calls connected and closed in a row: success rate (connected within 20 s),
 *   offer -> answer (the edge and the transceiver's session API), offer -> connected (ICE + DTLS)
 *   and offer -> data channel open (SCTP), p50/p99, and channel open -> the echo of a first message
 *   (SCTP retransmission of the transceiver's first data, before it has an RTT sample);
 * - audio: `--calls` calls held `--hold` s each, from Chromium's getStats (sampled every 50 ms):
 *   packets lost, concealed samples / samples received, mean jitter buffer delay, the selected
 *   pair's RTT, and the longest stretch without audio;
 * - blackouts (blackout1, blackout5): 2 s into the call everything is dropped both ways for 1 or
 *   5 s; recovery = first audio after the blackout's end; survived = still connected after it;
 * - rebind: 2 s into the call the impairer moves it to a new source port (NAT rebinding); recovery =
 *   the audio gap after the move (until the browser's next check from the new port opens a new flow).
 * The clean profile is the reference, measured in the same run.
 */
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import type { Impairer } from "../media/impair/impairer.ts";
import { parseProfile } from "../media/impair/profile.ts";
import type { RunningStack } from "../media/stack/main.ts";
import type { SessionInfo } from "../media/transceiver/session.ts";
import { chromiumMissing, launchChromium } from "../test/support/chromium.ts";
import {
  type CallSample,
  callSamples,
  endChromiumCall,
  longestAudioGap,
  openCallPage,
  pageNow,
  startChromiumCall,
} from "../test/support/chromium-call.ts";
import { loopbackRegion, startLoopbackStack } from "../test/support/loopback-region.ts";
import { txFetch } from "../test/support/stack.ts";
import { percentile } from "./lib/report.ts";

interface Scenario {
  name: string;
  about: string;
  spec: string;
  blackoutMs?: number;
  /** NAT rebinding instead of a blackout: the impairer moves the call to a new source port. */
  rebind?: boolean;
  /** Over ICE-TCP (the answer's only candidate the TCP impairer's). */
  tcp?: boolean;
}

const UDP_SCENARIOS: Scenario[] = [
  { name: "clean", about: "no impairment (reference)", spec: "clean" },
  { name: "loss2", about: "2 % random loss", spec: "loss2" },
  { name: "bursty5", about: "5 % bursty loss", spec: "bursty5" },
  { name: "rtt150", about: "150 ms RTT, ±30 ms jitter", spec: "rtt150" },
  { name: "blackout1", about: "1 s blackout", spec: "clean", blackoutMs: 1000 },
  { name: "blackout5", about: "5 s blackout", spec: "clean", blackoutMs: 5000 },
  {
    name: "rebind",
    about: "NAT rebinding: a new source port mid-call",
    spec: "clean",
    blackoutMs: 0,
    rebind: true,
  },
  // Not in the default run: the DTLS/SCTP handshake under heavy loss.
  { name: "loss10", about: "10 % random loss", spec: "loss=10%" },
];
const SCENARIOS: Scenario[] = [
  ...UDP_SCENARIOS,
  // Rebinding has no TCP counterpart here (a reset ends the connection: ICE restart).
  ...UDP_SCENARIOS.filter((s) => !s.rebind).map((s) => ({
    ...s,
    name: `tcp-${s.name}`,
    about: `ICE-TCP, ${s.about}`,
    tcp: true,
  })),
];

const { values } = parseArgs({
  options: {
    profiles: {
      type: "string",
      default:
        "clean,loss2,bursty5,rtt150,blackout1,blackout5,rebind,tcp-clean,tcp-loss2,tcp-rtt150,tcp-blackout1",
    },
    setups: { type: "string", default: "10" },
    calls: { type: "string", default: "2" },
    hold: { type: "string", default: "6" },
  },
});
const SETUPS = Number(values.setups);
const CALLS = Number(values.calls);
const HOLD_MS = Number(values.hold) * 1000;
const scenarios = values.profiles.split(",").map((n) => {
  const s = SCENARIOS.find((x) => x.name === n);
  if (!s) throw new Error(`unknown profile ${n} (${SCENARIOS.map((x) => x.name).join(", ")})`);
  return s;
});
const missing = chromiumMissing();
if (missing) {
  console.log(`skipped: ${missing}`);
  process.exit(0);
}

interface Result {
  profile: string;
  setups: number;
  answered: number[];
  connected: number[];
  channelOpen: number[];
  firstEcho: number[];
  failures: number;
  lossPct: number[];
  concealPct: number[];
  jitterBufferMs: number[];
  rttMs: number[];
  gapMs: number[];
  recoveryMs: number[];
  survived: boolean[];
  /** The selected pairs' protocols seen during the audio calls. */
  protocols: Set<string>;
  /** TCP: frames the impairer dropped toward a slow reader (should stay 0). */
  backpressureDrops: number;
}

interface Lab {
  stack: RunningStack;
  impairer: Impairer;
  edgeUrl: string;
}

/** One stack per transport, one at a time: UDP (the answer's UDP candidate the impairer's), or TCP only. */
async function startLab(tcp: boolean): Promise<Lab> {
  const region = await loopbackRegion("lab", tcp ? 72 : 71, { impair: true, tcp, impairTcp: tcp });
  const stack = await startLoopbackStack([region], { backend: "echo", relayProcesses: 1, tcpOnly: tcp });
  return { stack, impairer: stack.impairers[0]!, edgeUrl: stack.edge!.url };
}

const chromium = await launchChromium();
const page = await chromium.context.newPage();
let lab: Lab | undefined;

async function sessionStates(): Promise<SessionInfo[]> {
  const r = await txFetch(`${lab!.stack.transceivers[0]!.url}/v1/sessions`, {}, lab!.stack.token);
  return ((await r.json()) as { sessions: SessionInfo[] }).sessions;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Audio numbers of one call between two samples. */
function audio(a: CallSample, b: CallSample, all: CallSample[]) {
  const lost = b.packetsLost - a.packetsLost;
  const received = b.packetsReceived - a.packetsReceived;
  const emitted = b.jitterBufferEmittedCount - a.jitterBufferEmittedCount;
  const rtts = all
    .filter((s) => s.t >= a.t && s.t <= b.t && s.rtt !== undefined)
    .map((s) => s.rtt! * 1000)
    .sort((x, y) => x - y);
  return {
    lossPct: (100 * lost) / Math.max(1, lost + received),
    concealPct:
      (100 * (b.concealedSamples - a.concealedSamples)) /
      Math.max(1, b.totalSamplesReceived - a.totalSamplesReceived),
    jitterBufferMs: emitted > 0 ? (1000 * (b.jitterBufferDelay - a.jitterBufferDelay)) / emitted : Number.NaN,
    rttMs: percentile(rtts, 50),
  };
}

async function waitAudio(p: Page, packets: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (((await callSamples(p)).at(-1)?.packetsReceived ?? 0) >= packets) return true;
    await sleep(50);
  }
  return false;
}

async function run(s: Scenario, { impairer, edgeUrl }: Lab): Promise<Result> {
  impairer.setProfile(parseProfile(s.spec));
  const tcpDropsBefore = backpressureDrops(impairer);
  const r: Result = {
    profile: s.name,
    setups: 0,
    answered: [],
    connected: [],
    channelOpen: [],
    firstEcho: [],
    failures: 0,
    lossPct: [],
    concealPct: [],
    jitterBufferMs: [],
    rttMs: [],
    gapMs: [],
    recoveryMs: [],
    survived: [],
    protocols: new Set(),
    backpressureDrops: 0,
  };
  const event = s.blackoutMs !== undefined;
  // A blackout or a rebinding changes nothing before it: setup is the clean profile's.
  for (let i = 0; i < (event ? 0 : SETUPS); i++) {
    r.setups++;
    try {
      const c = await startChromiumCall(page, { edgeUrl, sampleMs: 1000, firstEcho: true });
      r.firstEcho.push(c.firstEchoMs!);
      r.answered.push(c.answeredMs);
      r.connected.push(c.connectedMs);
      r.channelOpen.push(c.channelOpenMs);
    } catch {
      r.failures++;
    }
    await endChromiumCall(page);
  }
  for (let i = 0; i < CALLS; i++) {
    let c: Awaited<ReturnType<typeof startChromiumCall>>;
    const known = new Set(impairer.clients().map((x) => x.client));
    try {
      c = await startChromiumCall(page, { edgeUrl, sampleMs: 50 });
    } catch {
      r.failures++;
      await endChromiumCall(page);
      continue;
    }
    if (!event) {
      r.setups++;
      r.answered.push(c.answeredMs);
      r.connected.push(c.connectedMs);
      r.channelOpen.push(c.channelOpenMs);
    }
    // Audio flowing first (the jitter buffer settles), then the measured stretch.
    await waitAudio(page, 25, 10_000);
    await sleep(1000);
    const from = await pageNow(page);
    let blackoutEnd: number | undefined;
    if (event) {
      await sleep(2000);
      const at = await pageNow(page);
      if (s.rebind) {
        // This call's client: the one the impairer did not know before it.
        const mine = impairer.clients().filter((x) => !known.has(x.client));
        for (const m of mine) await impairer.rebind(m.client);
      } else impairer.blackout(s.blackoutMs!);
      blackoutEnd = at + s.blackoutMs!;
      await sleep(s.blackoutMs!);
      // Recovery: audio again, or give up after 20 s.
      const base = (await callSamples(page)).at(-1)?.packetsReceived ?? 0;
      await waitAudio(page, base + 25, 20_000);
      await sleep(2000);
    } else await sleep(HOLD_MS);
    const samples = await callSamples(page);
    const to = samples.at(-1)!;
    const first = samples.find((x) => x.t >= from) ?? samples[0]!;
    const a = audio(first, to, samples);
    r.lossPct.push(a.lossPct);
    r.concealPct.push(a.concealPct);
    r.jitterBufferMs.push(a.jitterBufferMs);
    r.rttMs.push(a.rttMs);
    r.gapMs.push(longestAudioGap(samples, from, to.t));
    if (s.rebind && blackoutEnd !== undefined) r.recoveryMs.push(longestAudioGap(samples, blackoutEnd, to.t));
    else if (blackoutEnd !== undefined) {
      const before = samples.findLast((x) => x.t <= blackoutEnd!)?.packetsReceived ?? 0;
      const back = samples.find((x) => x.t > blackoutEnd! && x.packetsReceived > before);
      r.recoveryMs.push(back ? back.t - blackoutEnd : Number.POSITIVE_INFINITY);
    }
    for (const x of samples) if (x.t >= from && x.protocol) r.protocols.add(x.protocol);
    const live = (await sessionStates()).some((x) => x.state === "connected");
    r.survived.push(to.connectionState === "connected" && live);
    await endChromiumCall(page);
  }
  r.backpressureDrops = backpressureDrops(impairer) - tcpDropsBefore;
  return r;
}

function backpressureDrops(impairer: Impairer): number {
  const d = impairer.stats.tcp?.backpressureDrops;
  return d ? d.up + d.down : 0;
}

const results: Result[] = [];
try {
  for (const tcp of [false, true]) {
    const group = scenarios.filter((s) => (s.tcp ?? false) === tcp);
    if (group.length === 0) continue;
    lab = await startLab(tcp);
    await openCallPage(page, lab.edgeUrl);
    // One call first, not measured: the edge's and the transceiver's first request, the certificate.
    await startChromiumCall(page, { edgeUrl: lab.edgeUrl, sampleMs: 1000 }).catch(() => {});
    await endChromiumCall(page);
    for (const s of group) {
      console.error(`profile ${s.name}: ${s.about}`);
      results.push(await run(s, lab));
    }
    await lab.stack.close();
    lab = undefined;
  }
} finally {
  await chromium.close();
  await lab?.stack.close();
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const p = (xs: number[], q: number) => (xs.length ? percentile(sorted(xs), q) : Number.NaN);
const f = (x: number, d = 0) =>
  Number.isFinite(x) ? x.toFixed(d) : x === Number.POSITIVE_INFINITY ? "never" : "-";
const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : Number.NaN);
const head = [
  "profile".padEnd(14),
  "pair".padStart(4),
  "setup ok".padStart(9),
  "answer p50/p99".padStart(15),
  "connected p50/p99".padStart(18),
  "channel p50/p99".padStart(16),
  "1st echo p50/p99".padStart(17),
  "loss %".padStart(7),
  "conceal %".padStart(10),
  "jb ms".padStart(6),
  "rtt ms".padStart(7),
  "gap ms".padStart(7),
  "recovery ms".padStart(12),
  "survived".padStart(9),
  "tcp bp drops".padStart(13),
];
console.log(
  `\nChromium calls through the impairer, whole stack, echo (setups ${SETUPS}, audio calls ${CALLS} x ${HOLD_MS / 1000} s per profile; impairment both ways)\n`,
);
console.log(head.join(" "));
for (const r of results) {
  // Blackout and rebind rows time no setup; a call of theirs that failed to start still shows.
  const setup = r.setups ? `${r.setups - r.failures}/${r.setups}` : r.failures ? `${r.failures} failed` : "-";
  console.log(
    [
      r.profile.padEnd(14),
      ([...r.protocols].join("+") || "-").padStart(4),
      setup.padStart(9),
      `${f(p(r.answered, 50))} / ${f(p(r.answered, 99))}`.padStart(15),
      `${f(p(r.connected, 50))} / ${f(p(r.connected, 99))}`.padStart(18),
      `${f(p(r.channelOpen, 50))} / ${f(p(r.channelOpen, 99))}`.padStart(16),
      `${f(p(r.firstEcho, 50))} / ${f(p(r.firstEcho, 99))}`.padStart(17),
      f(mean(r.lossPct), 2).padStart(7),
      f(mean(r.concealPct), 2).padStart(10),
      f(mean(r.jitterBufferMs)).padStart(6),
      f(mean(r.rttMs)).padStart(7),
      f(Math.max(...r.gapMs, 0)).padStart(7),
      (r.recoveryMs.length ? r.recoveryMs.map((x) => f(x)).join(",") : "-").padStart(12),
      `${r.survived.filter(Boolean).length}/${r.survived.length}`.padStart(9),
      (r.profile.startsWith("tcp-") ? String(r.backpressureDrops) : "-").padStart(13),
    ].join(" "),
  );
}
console.log(
  JSON.stringify({
    bench: "impairment",
    setups: SETUPS,
    calls: CALLS,
    holdMs: HOLD_MS,
    results: results.map((r) => ({
      profile: r.profile,
      protocols: [...r.protocols],
      setupOk: r.setups - r.failures,
      setups: r.setups,
      answeredMs: { p50: p(r.answered, 50), p99: p(r.answered, 99) },
      connectedMs: { p50: p(r.connected, 50), p99: p(r.connected, 99) },
      channelOpenMs: { p50: p(r.channelOpen, 50), p99: p(r.channelOpen, 99) },
      firstEchoMs: { p50: p(r.firstEcho, 50), p99: p(r.firstEcho, 99) },
      lossPct: mean(r.lossPct),
      concealPct: mean(r.concealPct),
      jitterBufferMs: mean(r.jitterBufferMs),
      rttMs: mean(r.rttMs),
      gapMs: r.gapMs,
      recoveryMs: r.recoveryMs,
      survived: r.survived,
      backpressureDrops: r.backpressureDrops,
    })),
  }),
);
process.exit(0);
