/**
 * The relay's per-datagram decisions alone, this tree against another commit's, in one process:
 * `node bench/relay-steering.ts [--baseline REF] [--flows N] [--rounds R] [--round-trips K]`.
 * REF defaults to 68e1188, the last commit before authenticated encapsulation.
 *
 * Per round trip, as the batched I/O backend does it: Steering.fromClientV4 on a datagram in a
 * shared buffer, the flow's header written in place in front of it, then Steering.fromNextHopV4
 * on the reply (the header and a payload). Both trees' own modules (Steering, FlowTable, hints,
 * headers), the same flows (cluster relay facing clients, N verified IPv4 flows), rounds
 * alternating between the two; the minimum and median ns per round trip of each, and their ratio.
 * A CPU-only loop: much less disturbed by a shared machine than bench/relay.ts, and it isolates
 * what authenticated encapsulation changed on the packet path (the kernel's part is the same).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { benchArgs } from "./lib/args.ts";
import { checkoutBaseline, ROOT } from "./lib/relay-procs.ts";
import { percentile, report } from "./lib/report.ts";

const argv = benchArgs({ baseline: "68e1188", flows: 1000, rounds: 30, "round-trips": 200_000, size: 200 });
if (!argv.baseline)
  throw new Error("--baseline REF: the commit to compare with (e.g. main before this change)");
const FLOWS = argv.flows;
const ROUNDS = argv.rounds;
const PER_ROUND = argv["round-trips"];
const SIZE = argv.size;
const HEADROOM = 32;
const CLUSTER = 1;
const TRANSCEIVER = { address: "127.0.0.1", port: 9000 };
const HINT_KEYS = `1:${"ab".repeat(16)}`;
const ENCAP_KEYS = `1:${"cd".repeat(16)}`;

/** One tree's packet path, set up with FLOWS open, verified flows; run(k) does k round trips. */
async function packetPath(root: string): Promise<(k: number) => void> {
  const m = (p: string) => import(join(root, p));
  const [{ Steering }, { FlowTable }, { clusterRoute }, hint, stun, encap] = await Promise.all([
    m("media/relay/steering.ts"),
    m("media/relay/flow-table.ts"),
    m("media/relay/next-hop.ts"),
    m("shared/hint.ts"),
    m("media/wire/stun-build.ts"),
    m("media/wire/encap.ts"),
  ]);
  // A tree from before authentication has no encap-auth.ts: its Steering takes no encapKeys.
  const auth = await m("media/wire/encap-auth.ts").catch(() => undefined);
  const keys = hint.parseKeyring(HINT_KEYS);
  const s = new Steering({
    keys,
    encapKeys: auth?.parseEncapKeys(ENCAP_KEYS),
    route: clusterRoute(CLUSTER, 4),
    table: new FlowTable(FLOWS + 1),
  });
  const ufrag = hint.mintHint(keys, { cluster: CLUSTER, transceiver: TRANSCEIVER });
  const check = stun.buildBindingRequest({ username: `${ufrag}:c`, password: "p".repeat(24) });
  const clientKeys: number[] = [];
  const replies: Buffer[] = [];
  const payload = Buffer.alloc(SIZE, 0x17);
  payload[0] = 0x80;
  for (let i = 0; i < FLOWS; i++) {
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const port = 20000 + (i % 40000);
    if (s.fromClient(check, address, port, 0) !== "open") throw new Error(`${root}: no flow opened`);
    s.flow.budget.verify();
    clientKeys.push(encap.keyV4(address, port));
    replies.push(Buffer.concat([s.flow.header, payload]));
  }
  const hopKey = encap.keyV4(TRANSCEIVER.address, TRANSCEIVER.port);
  const buf = new Uint8Array(HEADROOM + SIZE);
  buf.set(payload, HEADROOM);
  let i = 0;
  return (k: number) => {
    for (let n = 0; n < k; n++) {
      if (s.fromClientV4(buf, HEADROOM, SIZE, clientKeys[i]!, 1) !== "forward")
        throw new Error("not forwarded");
      const h: Uint8Array = s.flow.header;
      buf.set(h, HEADROOM - h.length);
      const r = replies[i]!;
      if (s.fromNextHopV4(r, 0, r.length, hopKey) !== "deliver") throw new Error("not delivered");
      if (++i === FLOWS) i = 0;
    }
  };
}

const base = checkoutBaseline(argv.baseline);
try {
  const paths = { tree: await packetPath(ROOT), baseline: await packetPath(base.dir) };
  const ns: Record<keyof typeof paths, number[]> = { tree: [], baseline: [] };
  for (const run of Object.values(paths)) run(PER_ROUND); // JIT warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of (r % 2 ? ["baseline", "tree"] : ["tree", "baseline"]) as (keyof typeof paths)[]) {
      const t = process.hrtime.bigint();
      paths[name](PER_ROUND);
      ns[name].push(Number(process.hrtime.bigint() - t) / PER_ROUND);
    }
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { min: s[0]!, p50: percentile(s, 50), max: s.at(-1)! };
  };
  const tree = stats(ns.tree);
  const baseline = stats(ns.baseline);
  report(
    `relay-steering: ns per round trip (Steering both ways + header write), ${FLOWS} flows, ${SIZE}-byte datagrams, ${ROUNDS} alternating rounds of ${PER_ROUND}`,
    [
      [
        "this tree: min / median / max",
        `${tree.min.toFixed(1)} / ${tree.p50.toFixed(1)} / ${tree.max.toFixed(1)}`,
      ],
      [
        `${argv.baseline}: min / median / max`,
        `${baseline.min.toFixed(1)} / ${baseline.p50.toFixed(1)} / ${baseline.max.toFixed(1)}`,
      ],
      [
        "added ns per round trip (min, median)",
        `${(tree.min - baseline.min).toFixed(1)}, ${(tree.p50 - baseline.p50).toFixed(1)}`,
      ],
      ["this tree / baseline (min)", tree.min / baseline.min],
    ],
    {
      flows: FLOWS,
      size: SIZE,
      rounds: ROUNDS,
      roundTripsPerRound: PER_ROUND,
      baseline: argv.baseline,
      tree,
      baselineNs: baseline,
    },
  );
} finally {
  rmSync(base.dir, { recursive: true, force: true });
}
