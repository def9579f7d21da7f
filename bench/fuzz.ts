/**
 * Fuzz of the whole stack (#16 "Also"): `npm run fuzz -- [--seconds 120] [--seed 1116] [--calls 5]
 * [--udp-rate 2000] [--http 4] [--skip "cluster encap-live-client"]`.
 *
 * `voice-edge stack` (echo sessions, two relay processes per tier, two transceiver workers) with
 * live werift calls streaming audio, while seeded fuzz goes at the ingress and the cluster relay
 * (UDP: garbage, truncated STUN, forged hints, mutated real packets, forged encapsulation), at the
 * edge and the transceiver session API (HTTP: any method, path, header and body, deep JSON,
 * oversize), plus the replayed-cookie attack of #16 item 1 (every 5 s) and a ClientHello "from"
 * each live client (item 2, every 2 s). Prints per attack the bytes sent and received back
 * (amplification factor), the HTTP status histograms, drops by reason, the calls' longest audio
 * gaps, crashes and pool health; then one JSON line. The same seed replays the same fuzz (the
 * stack's timing varies). test/fuzz/fuzz.test.ts runs a few seconds of it in CI.
 */
import { runFuzz } from "../test/support/fuzz/harness.ts";
import { benchArgs } from "./lib/args.ts";
import { report } from "./lib/report.ts";

const argv = benchArgs({
  seconds: 120,
  seed: 1116,
  calls: 5,
  "udp-rate": 2000,
  http: 4,
  skip: [] as string[],
});

const r = await runFuzz({
  seed: argv.seed,
  seconds: argv.seconds,
  calls: argv.calls,
  udpRate: argv["udp-rate"],
  httpConcurrency: argv.http,
  skip: argv.skip,
  log: (l) => console.error(l),
});

const rows: [string, string | number][] = [];
rows.push(["seconds, seed", `${r.seconds.toFixed(1)} s, ${r.seed}`]);
for (const [name, a] of Object.entries(r.attacks))
  rows.push([
    `udp ${name}`,
    `${a.sentPackets} sent (${a.sentBytes} B), ${a.receivedPackets} back (${a.receivedBytes} B): ${a.factor.toFixed(3)}x`,
  ]);
for (const target of ["edge", "transceiver"] as const) {
  const h = r.http[target];
  const hist = Object.entries(h.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}: ${n}`)
    .join(", ");
  rows.push([`http ${target} (${h.requests} requests)`, hist]);
  rows.push([
    `http ${target} problems`,
    `${h.violationCount} 5xx or non-JSON errors, ${h.noAnswer} unanswered, ${h.oversizeResets} resets on >1 MB bodies`,
  ]);
  for (const v of [...h.violations, ...h.noAnswers].slice(0, 5)) rows.push([`  ${target}`, v]);
}
for (const tier of ["ingress", "cluster", "transceiver"] as const)
  rows.push([
    `drops ${tier}`,
    Object.entries(r.drops[tier])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none",
  ]);
rows.push(["audio gap p50 / max (ms)", `${r.gapP50Ms} / ${r.gapMaxMs} over ${r.calls} calls`]);
rows.push(["calls alive after (echo + data channel)", `${r.callsAlive} of ${r.calls}`]);
rows.push([
  "restarts (crashes) ingress / cluster / transceiver",
  `${r.restarts.ingress} / ${r.restarts.cluster} / ${r.restarts.transceiver}`,
]);
rows.push(["pools ready at the edge, transceiver /healthz", `${r.poolsHealthy}, ${r.transceiverHealthy}`]);
report("fuzz", rows, r as unknown as Record<string, unknown>);
process.exit(0);
