/**
 * Recovery gap after a relay restart:
 *
 *   node bench/relay-recovery.ts [--calls 20] [--reps 3] [--no-baseline] [--clients werift|chromium]
 *
 * N live calls (audio both ways at 50 packets/s, echoed by a transceiver)
 * through real processes on loopback:
 *
 *   client -> ingress -> load balancer -> cluster relay -> transceiver
 *
 * Per scenario and repetition, each call's longest silence (ms between two
 * echoed packets) around the event, and the packets it lost; p50/p99/max
 * over all calls and repetitions:
 *
 *   cluster relay restart   kill -9, then a new process on the same address (flows from Redis)
 *   cluster relay swap      the balancer sends every flow to a running second instance (flows from Redis)
 *   ingress restart         kill -9, then a new process on the same address (flows from Redis)
 *   baseline: no Redis      a cluster relay restarted without Redis: flows come back with each
 *                           client's next STUN consent check (every 4-6 s)
 *
 * For restarts, the new process's start time is part of the gap; "after
 * ready" is the part after it listens (the lookup). Redis: REDIS_URL.
 *
 * Clients: werift (default; its own 60-byte packets, arrival times taken as
 * they come), or headless Chromium (`--clients chromium`: N peer connections
 * in one browser sending the fake microphone as Opus; gaps from each received
 * frame's arrival in the page, bench/lib/chromium-audio.ts; no loss count, as
 * the echo numbers its own packets and Chromium's packetsLost sees no hole;
 * its own consent checks, which matter without Redis). Both: a "steady" row
 * first, the same measurement without an event, as the run's reference.
 */
import { parseArgs } from "node:util";
import { chromiumMissing } from "../test/support/chromium.ts";
import { dropKeys, REDIS_URL, uniquePrefix, waitForKeys } from "../test/support/redis.ts";
import { startRelayChain } from "../test/support/relay-chain.ts";
import {
  longestSilence,
  percentileOf,
  type RelayProcess,
  resumeAfter,
  spawnRelay,
  waitUntil,
} from "../test/support/relay-harness.ts";
import { LO } from "../test/support/udp.ts";
import { openChromiumAudioCalls } from "./lib/chromium-audio.ts";

const { values: argv } = parseArgs({
  options: {
    calls: { type: "string", default: "20" },
    reps: { type: "string", default: "3" },
    "no-baseline": { type: "boolean", default: false },
    clients: { type: "string", default: "werift" },
  },
});
const CLIENTS = argv.clients;
if (CLIENTS !== "werift" && CLIENTS !== "chromium") throw new Error("--clients: werift or chromium");
if (CLIENTS === "chromium") {
  const missing = chromiumMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    process.exit(0);
  }
}
const N = Number(argv.calls);
const REPS = Math.max(1, Number(argv.reps));
const CLUSTER = 51;

/** What a scenario reads of the live calls, whichever the clients. */
interface Clients {
  /** Per call: the longest silence within [from, to] (Date.now() ms). */
  gaps(from: number, to: number): Promise<number[]>;
  /** Per call: packets missing so far (werift only: see above). */
  missing?(): Promise<number[]>;
  /** Per call: ms from `at` to the first audio after it (Infinity: none yet). */
  resumeAfter(at: number): Promise<number[]>;
  close(): Promise<void>;
}

interface Sample {
  scenario: string;
  gaps: number[];
  lost: number[] | undefined;
  afterReady?: number[];
  processStartMs?: number;
  recovered: number;
}

async function main() {
  const prefix = uniquePrefix("bench-recovery");
  const chain = await startRelayChain({
    cluster: CLUSTER,
    calls: CLIENTS === "werift" ? N : 0,
    redisUrl: REDIS_URL,
    prefix,
    balancer: true,
  });
  const { calls, clusterArgs, ingressArgv, redisArgs: redis, relayPort } = chain;
  const lb = chain.lb!;
  let { clusterRelay: cluster, ingress } = chain;
  const samples: Sample[] = [];
  let clients: Clients | undefined;
  try {
    clients =
      CLIENTS === "werift"
        ? {
            gaps: async (from, to) => longestSilence(calls, from, to),
            missing: async () => calls.map((c) => c.sent - c.arrivals.length),
            resumeAfter: async (at) => resumeAfter(calls, at),
            close: async () => {},
          }
        : await openChromiumAudioCalls(chain.tx.url, N);
    const live = clients;
    await waitForKeys(REDIS_URL, `${prefix}cluster-${CLUSTER}:`, N);
    await waitForKeys(REDIS_URL, `${prefix}ingress-${LO}:${chain.ingressPort}:`, N);
    await waitUntil(
      async () => (await live.resumeAfter(Date.now() - 200)).every(Number.isFinite),
      10_000,
      "audio on every call",
    );
    /** Runs `event`, waits until every call hears audio after `readyAt()`, and measures. */
    const measure = async (
      scenario: string,
      event: () => Promise<{ readyAt?: number; relay: RelayProcess }>,
      resumeMs = 5000,
    ) => {
      await new Promise((r) => setTimeout(r, 500));
      const lost0 = await live.missing?.();
      const t0 = Date.now();
      const { readyAt, relay } = await event();
      const from = readyAt ?? t0;
      await waitUntil(
        async () => (await live.resumeAfter(from)).every(Number.isFinite),
        resumeMs,
        `${scenario}: audio`,
      );
      await new Promise((r) => setTimeout(r, 300));
      samples.push({
        scenario,
        gaps: await live.gaps(t0 - 100, Date.now()),
        lost: lost0 && (await live.missing!()).map((m, i) => m - lost0[i]!),
        afterReady: readyAt ? await live.resumeAfter(readyAt) : undefined,
        processStartMs: readyAt ? readyAt - t0 : undefined,
        recovered: await relay.metric("voice_edge_relay_flow_events_total", 'event="recovered"'),
      });
    };

    // The reference: the same window and reading, nothing done.
    await measure("steady (no event)", async () => {
      await new Promise((r) => setTimeout(r, 1000));
      return { relay: cluster };
    });
    for (let rep = 0; rep < REPS; rep++) {
      await measure("cluster relay restart", async () => {
        await cluster.kill9();
        cluster = await spawnRelay([...clusterArgs, ...redis]);
        return { readyAt: cluster.readyAt, relay: cluster };
      });
      let second: RelayProcess | undefined;
      await measure("cluster relay swap", async () => {
        second = await spawnRelay(
          [...clusterArgs, ...redis].map((a) => (a === `${LO}:${relayPort}` ? `${LO}:0` : a)),
        );
        await new Promise((r) => setTimeout(r, 300));
        lb.backend = { address: LO, port: second.publicPort };
        return { relay: second };
      });
      // Back to the first instance's address for the next round (that is a swap too: not measured).
      lb.backend = { address: LO, port: cluster.publicPort };
      await new Promise((r) => setTimeout(r, 500));
      await second?.kill9();
      await measure("ingress restart", async () => {
        await ingress.kill9();
        ingress = await spawnRelay(ingressArgv);
        return { readyAt: ingress.readyAt, relay: ingress };
      });
    }
    if (!argv["no-baseline"])
      await measure(
        "baseline: restart without Redis",
        async () => {
          await cluster.kill9();
          cluster = await spawnRelay(clusterArgs);
          return { readyAt: cluster.readyAt, relay: cluster };
        },
        15_000,
      );
  } finally {
    await clients?.close();
    await chain.stop();
    await dropKeys(REDIS_URL, prefix);
  }
  report(samples);
}

function report(samples: Sample[]) {
  const scenarios = [...new Set(samples.map((s) => s.scenario))];
  console.log(
    `\n${N} ${CLIENTS} calls (audio both ways, 50 packets/s each), ${REPS} repetition(s); per call: longest silence around ` +
      `the event (ms)${CLIENTS === "werift" ? " and packets lost (both directions)" : ""}\n`,
  );
  const head = [
    "scenario".padEnd(32),
    "gap p50".padStart(8),
    "gap p99".padStart(8),
    "gap max".padStart(8),
    "lost p50".padStart(9),
    "lost max".padStart(9),
    "start ms".padStart(9),
    "after ready p50/p99".padStart(20),
    "recovered".padStart(10),
  ];
  console.log(head.join(" "));
  const out: Record<string, unknown>[] = [];
  for (const name of scenarios) {
    const mine = samples.filter((s) => s.scenario === name);
    const gaps = mine.flatMap((s) => s.gaps);
    const lost = mine.flatMap((s) => s.lost ?? []);
    const after = mine.flatMap((s) => s.afterReady ?? []);
    const starts = mine.map((s) => s.processStartMs).filter((x): x is number => x !== undefined);
    const recovered = mine.map((s) => s.recovered);
    console.log(
      [
        name.padEnd(32),
        String(percentileOf(gaps, 50)).padStart(8),
        String(percentileOf(gaps, 99)).padStart(8),
        String(Math.max(...gaps)).padStart(8),
        (lost.length ? String(percentileOf(lost, 50)) : "-").padStart(9),
        (lost.length ? String(Math.max(...lost)) : "-").padStart(9),
        (starts.length ? String(percentileOf(starts, 50)) : "-").padStart(9),
        (after.length ? `${percentileOf(after, 50)} / ${percentileOf(after, 99)}` : "-").padStart(20),
        recovered.join(",").padStart(10),
      ].join(" "),
    );
    out.push({
      scenario: name,
      gapP50: percentileOf(gaps, 50),
      gapP99: percentileOf(gaps, 99),
      gapMax: Math.max(...gaps),
      lostP50: lost.length ? percentileOf(lost, 50) : undefined,
      lostMax: lost.length ? Math.max(...lost) : undefined,
      processStartMs: starts,
      afterReadyP50: after.length ? percentileOf(after, 50) : undefined,
      afterReadyP99: after.length ? percentileOf(after, 99) : undefined,
      recovered,
    });
  }
  console.log(
    JSON.stringify({ bench: "relay-recovery", clients: CLIENTS, calls: N, reps: REPS, results: out }),
  );
}

await main();
