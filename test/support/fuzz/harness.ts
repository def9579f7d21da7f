/**
 * The fuzz harness of #16 ("Also"): `voice-edge stack` (echo sessions, two relay
 * processes per tier) with live calls streaming audio, while seeded fuzz goes
 * at the ingress and the cluster relay (UDP) and at the edge and the
 * transceiver session API (HTTP), plus the two DTLS attacks of items 1 and 2.
 * It measures, it does not judge: test/fuzz/fuzz.test.ts asserts on a short
 * run, bench/fuzz.ts prints a longer one.
 */
import { createSocket, type Socket } from "node:dgram";
import { DEV_API_KEY } from "../../../edge/config/defaults.ts";
import { type RunningStack, startStack } from "../../../media/stack/main.ts";
import { parseTopology } from "../../../media/stack/topology.ts";
import type { Endpoint } from "../../../shared/hint.ts";
import { parseKeyring } from "../../../shared/hint.ts";
import {
  attackerCheck,
  firstClientHello,
  handshakeType,
  icePassword,
  learnCookie,
  sendFromClient,
  tapSends,
  verifyRequestCookie,
  withCookie,
} from "../dtls.ts";
import {
  type AudioCall,
  longestSilence,
  openEdgeCall,
  percentileOf,
  streamAudio,
  waitUntil,
} from "../relay-harness.ts";
import { freePort } from "../stack.ts";
import { freeUdpPort, LO } from "../udp.ts";
import { createTestClient, type TestClient } from "../werift-client.ts";
import {
  CLUSTER_ATTACKS,
  type ClusterAttack,
  clusterDatagram,
  INGRESS_ATTACKS,
  type IngressAttack,
  ingressDatagram,
  type UdpMaterial,
} from "./datagrams.ts";
import { type FuzzResponse, fuzzRequest, openAiShaped, sendRaw } from "./requests.ts";
import { Rng } from "./rng.ts";

export interface FuzzOptions {
  seed: number;
  /** How long the fuzz runs (after setup). */
  seconds: number;
  /** Live calls streaming audio meanwhile. */
  calls: number;
  /** Fuzzed datagrams per second, over all UDP attacks. */
  udpRate: number;
  /** HTTP requests in flight at once, per target. */
  httpConcurrency: number;
  /** UDP attacks to leave out (by name: "cluster encap-live-client", ...). */
  skip?: string[];
  log?: (line: string) => void;
}

export interface AttackResult {
  /** Where it went: "ingress", "cluster relay", or a live client's own socket. */
  at: string;
  sentPackets: number;
  sentBytes: number;
  receivedPackets: number;
  receivedBytes: number;
  /** receivedBytes / sentBytes: at most 1 for any source the relay has not verified. */
  factor: number;
}

export interface HttpResult {
  requests: number;
  /** "404" or, for answers that are not the Worker's (no x-request-id: workerd's own), "501 workerd". */
  statuses: Record<string, number>;
  /** Error answers of ours that were 5xx or not OpenAI-shaped JSON (first few kept). */
  violations: string[];
  violationCount: number;
  /** Requests that got no answer within 10 s, or whose connection was reset before any (first few kept). */
  noAnswer: number;
  noAnswers: string[];
  /** Resets before any answer while a body over 1 MB was being sent (the server may close early). */
  oversizeResets: number;
}

export interface FuzzResult {
  seed: number;
  seconds: number;
  attacks: Record<string, AttackResult>;
  http: { edge: HttpResult; transceiver: HttpResult };
  /** Relay drops during the run, by tier and reason (non-zero only). */
  drops: {
    ingress: Record<string, number>;
    cluster: Record<string, number>;
    transceiver: Record<string, number>;
  };
  /** Per live call, the longest audio silence during the run (ms). */
  gapsMs: number[];
  gapP50Ms: number;
  gapMaxMs: number;
  /** Calls whose echo still arrives at the end, and whose data channel still answers. */
  callsAlive: number;
  calls: number;
  /** Process restarts during the run (relay workers, transceiver workers): crashes. */
  restarts: { ingress: number; cluster: number; transceiver: number };
  /** The edge's view of its pools at the end, and the transceiver's /healthz. */
  poolsHealthy: boolean;
  transceiverHealthy: boolean;
}

interface LiveCall extends AudioCall {
  password: string;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const log = o.log ?? (() => {});
  const rng = new Rng(o.seed);
  const stack = await startStack(
    parseTopology({
      host: LO,
      backend: "echo",
      relayProcesses: 2,
      edge: { port: await freePort(), probeSeconds: 1 },
      regions: [
        {
          name: "eu",
          cluster: 41,
          latitude: 50,
          longitude: 8,
          ingressPort: await freeUdpPort(),
          transceiverPort: await freePort(),
          workers: 2,
        },
      ],
    }),
  );
  const clients: TestClient[] = [];
  const sockets: Socket[] = [];
  let stopAudio = () => {};
  try {
    const edgeUrl = stack.edge!.url;
    const txUrl = stack.transceivers[0]!.url;
    const ingress = stack.ingressHosts[0]!.publicAddress;
    const clusterRelay = stack.clusterRelayAddresses[0]!;
    log(`stack up: edge ${edgeUrl}, ingress ${ingress.port}, cluster relay ${clusterRelay.port}`);

    // Live calls through the edge, streaming audio; their packets are the fuzz's "real" material.
    const captured: Buffer[] = [];
    const calls: LiveCall[] = [];
    for (let i = 0; i < o.calls; i++) calls.push(await liveCall(edgeUrl, clients, captured));
    stopAudio = streamAudio(calls);
    await waitUntil(() => calls.every((c) => c.arrivals.length > 5), 10_000, "echoed audio on every call");
    const firstHello = firstClientHello(captured)!;
    const material: UdpMaterial = {
      keys: parseKeyring(stack.keys),
      cluster: 41,
      transceivers: stack.transceivers[0]!.pool.health().workers.map((w) => {
        const [address, port] = w.endpoint.split(":");
        return { address: address!, port: Number(port) };
      }),
      sessions: calls.map((c) => ({ ufrag: c.ufrag, password: c.password })),
      captured: captured.slice(0, 400),
      clients: calls.map((c) => ({ address: LO, port: c.localPort() })),
    };

    const before = await counters(stack, txUrl);
    const from = Date.now();
    const attacks: Record<string, AttackResult> = {};
    const counting = async (name: string, at: string) => {
      const s = createSocket("udp4");
      sockets.push(s);
      await new Promise<void>((r) => s.bind(0, LO, () => r()));
      const a: AttackResult = {
        at,
        sentPackets: 0,
        sentBytes: 0,
        receivedPackets: 0,
        receivedBytes: 0,
        factor: 0,
      };
      attacks[name] = a;
      s.on("message", (m) => {
        a.receivedPackets++;
        a.receivedBytes += m.length;
      });
      return { s, a };
    };
    const udp: { send: (d: Buffer) => void; a: AttackResult }[] = [];
    const sendVia = (s: Socket, a: AttackResult, to: Endpoint) => (d: Buffer) => {
      a.sentPackets++;
      a.sentBytes += d.length;
      s.send(d, to.port, to.address);
    };
    const streams = new Map<string, (r: Rng) => Buffer>();
    const skip = new Set(o.skip ?? []);
    for (const kind of INGRESS_ATTACKS) {
      if (skip.has(`ingress ${kind}`)) continue;
      const { s, a } = await counting(`ingress ${kind}`, "ingress");
      udp.push({ send: sendVia(s, a, ingress), a });
      streams.set(`ingress ${kind}`, (r) => ingressDatagram(kind as IngressAttack, r, material));
    }
    for (const kind of CLUSTER_ATTACKS) {
      if (skip.has(`cluster ${kind}`)) continue;
      const { s, a } = await counting(`cluster ${kind}`, "cluster relay");
      udp.push({ send: sendVia(s, a, clusterRelay), a });
      streams.set(`cluster ${kind}`, (r) => clusterDatagram(kind as ClusterAttack, r, material));
    }
    const rngs = [...streams.keys()].map((_, i) => rng.fork(i + 1));
    const gens = [...streams.values()];

    // Items 1 and 2: the replayed cookie (once per 5 s) and a ClientHello "from" each live client (once per 2 s).
    const cookieAttack = await replayedCookie(edgeUrl, ingress, firstHello, clients, counting);
    const spoofs = { sent: 0 };
    let lastHello = 0;
    let lastCookie = 0;

    const http = { edge: emptyHttp(), transceiver: emptyHttp() };
    const offer = await createTestClient().offer();
    const end = from + o.seconds * 1000;
    const httpLoops = (["edge", "transceiver"] as const).flatMap((target) =>
      Array.from({ length: o.httpConcurrency }, (_, i) =>
        httpLoop(
          rng.fork(100 + i + (target === "edge" ? 0 : 50)),
          target,
          target === "edge" ? edgeUrl : txUrl,
          target === "edge" ? DEV_API_KEY : stack.token,
          offer,
          end,
          http[target],
        ),
      ),
    );
    const perTick = Math.max(1, Math.round(o.udpRate / 100));
    let turn = 0;
    while (Date.now() < end) {
      for (let i = 0; i < perTick && udp.length > 0; i++) {
        const k = turn++ % udp.length;
        udp[k]!.send(gens[k]!(rngs[k]!));
      }
      const now = Date.now();
      if (now - lastHello >= 2000) {
        lastHello = now;
        for (const c of calls) {
          await sendFromClient(c.client, firstHello).catch(() => {});
          spoofs.sent++;
        }
      }
      if (now - lastCookie >= 5000) {
        lastCookie = now;
        await cookieAttack.fire();
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(httpLoops);
    const to = Date.now();
    // Stragglers: until no fuzzing socket has heard anything for half a second.
    await quiet(Object.values(attacks), 500, 5000);
    for (const a of Object.values(attacks)) a.factor = a.sentBytes > 0 ? a.receivedBytes / a.sentBytes : 0;
    attacks["spoofed ClientHello from live clients"] = {
      at: "live clients' own sockets",
      sentPackets: spoofs.sent,
      sentBytes: spoofs.sent * firstHello.length,
      receivedPackets: 0,
      receivedBytes: 0,
      factor: 0,
    };

    const gapsMs = longestSilence(calls, from, to);
    const callsAlive = await alive(calls);
    const after = await counters(stack, txUrl);
    stopAudio();
    const health = (await (
      await fetch(`${edgeUrl}/v1/edge/health`, { headers: { authorization: `Bearer ${DEV_API_KEY}` } })
    ).json()) as { pools?: { availability?: string }[] };
    const txHealth = await fetch(`${txUrl}/healthz`);
    return {
      seed: o.seed,
      seconds: (to - from) / 1000,
      attacks,
      http,
      drops: {
        ingress: diff(after.ingress, before.ingress),
        cluster: diff(after.cluster, before.cluster),
        transceiver: diff(after.transceiver, before.transceiver),
      },
      gapsMs,
      gapP50Ms: percentileOf(gapsMs, 50),
      gapMaxMs: Math.max(...gapsMs),
      callsAlive,
      calls: calls.length,
      restarts: {
        ingress: after.restarts.ingress - before.restarts.ingress,
        cluster: after.restarts.cluster - before.restarts.cluster,
        transceiver: after.restarts.transceiver - before.restarts.transceiver,
      },
      poolsHealthy: poolsHealthy(health),
      transceiverHealthy: txHealth.status === 200,
    };
  } finally {
    stopAudio();
    for (const s of sockets) s.close();
    await Promise.allSettled(clients.map((c) => c.close()));
    await stack.close();
  }
}

/** A werift call through the edge (echo), its datagrams captured. */
async function liveCall(edgeUrl: string, clients: TestClient[], captured: Buffer[]): Promise<LiveCall> {
  const call = await openEdgeCall(edgeUrl, {}, DEV_API_KEY, (client) => {
    clients.push(client);
    tapSends(client, (d) => {
      if (captured.length < 2000) captured.push(d);
    });
  });
  return { ...call, password: icePassword(call.answer) };
}

/**
 * Item 1: a session of the attacker's own (never connected), its cookie learnt at the attacker's
 * address, replayed with a victim's source address (the victim socket sends what is "forged").
 */
async function replayedCookie(
  edgeUrl: string,
  ingress: Endpoint,
  firstHello: Buffer,
  clients: TestClient[],
  counting: (name: string, at: string) => Promise<{ s: Socket; a: AttackResult }>,
) {
  const owner = createTestClient();
  clients.push(owner);
  const res = await fetch(`${edgeUrl}/v1/realtime/calls`, {
    method: "POST",
    headers: { "content-type": "application/sdp", authorization: `Bearer ${DEV_API_KEY}` },
    body: await owner.offer(),
  });
  const sdp = await res.text();
  const check = attackerCheck(/a=ice-ufrag:(\S+)/.exec(sdp)![1]!, sdp);
  const attacker = await counting("replayed cookie: the attacker's own address", "ingress");
  const victim = await counting("replayed cookie: forged victim", "ingress");
  let verifyRequest: Buffer | undefined;
  attacker.s.on("message", (m) => {
    if (handshakeType(m) === 3) verifyRequest = m;
  });
  await learnCookie({
    send(d) {
      attacker.a.sentPackets++;
      attacker.a.sentBytes += d.length;
      attacker.s.send(d, ingress.port, ingress.address);
    },
    verifyRequest: () => verifyRequest,
    check: check(true),
    hello: firstHello,
    retryMs: 300,
  });
  return {
    async fire() {
      // The newest cookie the attacker has (the server may have minted more since).
      for (const d of [check(false), withCookie(firstHello, verifyRequestCookie(verifyRequest!))]) {
        victim.a.sentPackets++;
        victim.a.sentBytes += d.length;
        victim.s.send(d, ingress.port, ingress.address);
      }
    },
  };
}

async function httpLoop(
  rng: Rng,
  target: "edge" | "transceiver",
  url: string,
  auth: string,
  offer: string,
  end: number,
  out: HttpResult,
): Promise<void> {
  const port = Number(new URL(url).port);
  while (Date.now() < end) {
    const req = fuzzRequest(rng, target, auth, offer);
    const res = await sendRaw(port, req);
    out.requests++;
    if (res === "reset" && req.body.length > 1_000_000) {
      out.oversizeResets++;
      continue;
    }
    if (typeof res === "string") {
      out.noAnswer++;
      if (out.noAnswers.length < 10)
        out.noAnswers.push(
          `${res}: ${req.method} ${req.path.slice(0, 60)} body ${req.body.length} B, headers ${JSON.stringify(req.headers).length} B`,
        );
      continue;
    }
    judge(target, req.method, req.path, res, out);
  }
}

function judge(target: string, method: string, path: string, res: FuzzResponse, out: HttpResult): void {
  // Every answer of the Worker carries x-request-id; what does not is workerd's own (docs/edge.md).
  const ours = target !== "edge" || res.headers["x-request-id"] !== undefined;
  const key = ours ? String(res.status) : `${res.status} workerd`;
  out.statuses[key] = (out.statuses[key] ?? 0) + 1;
  if (!ours) return;
  const bad = res.status >= 500 || (res.status >= 400 && method !== "HEAD" && !openAiShaped(res));
  if (!bad) return;
  out.violationCount++;
  if (out.violations.length < 10)
    out.violations.push(
      `${target} ${method} ${path.slice(0, 80)} -> ${res.status} ${res.body.slice(0, 120)}`,
    );
}

function emptyHttp(): HttpResult {
  return {
    requests: 0,
    statuses: {},
    violations: [],
    violationCount: 0,
    noAnswer: 0,
    noAnswers: [],
    oversizeResets: 0,
  };
}

async function quiet(attacks: AttackResult[], forMs: number, maxMs: number): Promise<void> {
  const total = () => attacks.reduce((n, a) => n + a.receivedPackets, 0);
  const deadline = Date.now() + maxMs;
  let last = total();
  let since = Date.now();
  while (Date.now() < deadline && Date.now() - since < forMs) {
    await new Promise((r) => setTimeout(r, 50));
    const now = total();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

/** Calls whose echo keeps coming and whose data channel answers, after the fuzz. */
async function alive(calls: LiveCall[]): Promise<number> {
  const results = await Promise.all(
    calls.map(async (c) => {
      const n = c.arrivals.length;
      let echoed = false;
      c.client.channel.onMessage.subscribe((m) => {
        if (String(m) === "still there") echoed = true;
      });
      c.client.channel.send("still there");
      try {
        await waitUntil(() => echoed && c.arrivals.length > n + 5, 5000, "echo after the fuzz");
        return true;
      } catch {
        return false;
      }
    }),
  );
  return results.filter(Boolean).length;
}

interface Counters {
  ingress: Record<string, number>;
  cluster: Record<string, number>;
  transceiver: Record<string, number>;
  restarts: { ingress: number; cluster: number; transceiver: number };
}

async function counters(stack: RunningStack, txUrl: string): Promise<Counters> {
  const ingress = await stack.ingressHosts[0]!.view();
  const cluster = await stack.clusterHosts[0]!.view();
  const metrics = await (await fetch(`${txUrl}/metrics`)).text();
  const transceiver: Record<string, number> = {};
  let restarts = 0;
  for (const line of metrics.split("\n")) {
    const d =
      /^voice_edge_transceiver_(drops_total|dtls_gate_drops_total)\{worker="\d+",reason="([^"]+)"\} (\d+)/.exec(
        line,
      );
    if (d) {
      const k = `${d[1] === "drops_total" ? "demux" : "dtls"} ${d[2]}`;
      transceiver[k] = (transceiver[k] ?? 0) + Number(d[3]);
    }
    const r = /^voice_edge_transceiver_worker_restarts_total\{worker="\d+"\} (\d+)/.exec(line);
    if (r) restarts += Number(r[1]);
  }
  return {
    ingress: { ...ingress.total.stats.drops },
    cluster: { ...cluster.total.stats.drops },
    transceiver,
    restarts: { ingress: ingress.restarts, cluster: cluster.restarts, transceiver: restarts },
  };
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** Every pool "ready" as the edge's steering sees it (not suspect, not unavailable). */
function poolsHealthy(h: { pools?: { availability?: string }[] }): boolean {
  return Array.isArray(h.pools) && h.pools.length > 0 && h.pools.every((p) => p.availability === "ready");
}
