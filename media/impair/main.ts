/**
 * `voice-edge impair`: a userspace UDP impairer (no netem needed) between
 * clients and an ingress. Clients send to --listen; each client gets its own
 * upstream socket toward --target, so the target sees one address per client
 * and a rebind (admin POST /rebind) moves it to a new source port.
 */
import { z } from "zod";
import { parseEndpoint } from "../../shared/ip.ts";
import { createLogger } from "../runtime/log.ts";
import { parseOptions } from "../runtime/options.ts";
import { startImpairAdmin } from "./admin.ts";
import { startImpairer } from "./impairer.ts";
import { PROFILES, parseProfile } from "./profile.ts";
import { DEFAULT_TCP_MAX_BUFFERED } from "./tcp-proxy.ts";

const endpoint = (bind: boolean, fallback: string) =>
  z
    .string()
    .refine((s) => parseEndpoint(s, { bind }) !== undefined, "expected ip:port with an IP literal")
    .default(fallback);

/** Profile keys that are also flags: each appends key=value to --profile. */
const PROFILE_FLAGS = {
  loss: "independent random loss, e.g. 2% or 0.02",
  burst: "bursty loss (Gilbert–Elliott): <mean loss>[:<mean burst packets, default 4>], e.g. 5%:4",
  delay: "one-way delay, ms",
  jitter: "each datagram's delay varies within ±jitter ms (order kept)",
  reorder: "share of datagrams held back (overtaken by later ones): <share>[:<ms, default 40>]",
  duplicate: "share of datagrams sent twice",
  rate: "rate limit, kbit/s (token bucket; 0: none)",
  queue: "with --rate: the longest a datagram may wait in the bucket's queue before it is dropped, ms",
} as const;

const specs = {
  listen: {
    env: "VOICE_EDGE_IMPAIR_LISTEN",
    schema: endpoint(true, "127.0.0.1:3480"),
    description: "where clients send (the address to advertise instead of the ingress's)",
  },
  target: {
    env: "VOICE_EDGE_IMPAIR_TARGET",
    schema: endpoint(false, "127.0.0.1:3478"),
    description: "where datagrams go: an ingress (the stack's first region by default)",
  },
  "tcp-listen": {
    env: "VOICE_EDGE_IMPAIR_TCP_LISTEN",
    schema: z
      .string()
      .refine((s) => parseEndpoint(s, { bind: true }) !== undefined, "expected ip:port with an IP literal")
      .optional(),
    description:
      "TCP mode (with --tcp-target): where ICE-TCP clients connect; RFC 4571 frames impaired whole",
  },
  "tcp-target": {
    env: "VOICE_EDGE_IMPAIR_TCP_TARGET",
    schema: z
      .string()
      .refine((s) => parseEndpoint(s) !== undefined, "expected ip:port with an IP literal")
      .optional(),
    description: "TCP mode: the ingress's TCP port (voice-edge relay --tcp-listen)",
  },
  "tcp-max-buffered": {
    env: "VOICE_EDGE_IMPAIR_TCP_MAX_BUFFERED",
    schema: z.coerce
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(DEFAULT_TCP_MAX_BUFFERED),
    description:
      "TCP mode: bytes queued toward a slow reader beyond which frames are dropped whole (real-time media)",
  },
  profile: {
    env: "VOICE_EDGE_IMPAIR_PROFILE",
    schema: z.string().default("clean"),
    description:
      "both directions: a name (above), key=value,... (keys as the flags below), or a name then key=value overrides",
  },
  ...(Object.fromEntries(
    Object.entries(PROFILE_FLAGS).map(([k, description]) => [
      k,
      { env: `VOICE_EDGE_IMPAIR_${k.toUpperCase()}`, schema: z.string().optional(), description },
    ]),
  ) as Record<
    keyof typeof PROFILE_FLAGS,
    { env: string; schema: z.ZodOptional<z.ZodString>; description: string }
  >),
  seed: {
    env: "VOICE_EDGE_IMPAIR_SEED",
    schema: z.coerce.number().int().min(0).max(0xffffffff).default(1),
    description: "seed of the random choices (same seed, same arrivals: same decisions)",
  },
  "idle-timeout": {
    env: "VOICE_EDGE_IMPAIR_IDLE_TIMEOUT",
    schema: z.coerce.number().min(1).max(3600).default(60),
    description: "seconds of client silence after which its upstream socket is closed",
  },
  admin: {
    env: "VOICE_EDGE_IMPAIR_ADMIN",
    schema: z
      .string()
      .refine((s) => s === "off" || parseEndpoint(s, { bind: true }) !== undefined, "expected ip:port or off")
      .default("127.0.0.1:9480"),
    description:
      "control over HTTP (GET /stats, /clients, /profile; POST /profile?direction=, /blackout?ms=, /rebind?client=, /reset?client=), or off",
  },
};

const ABOUT =
  "Userspace UDP (and, with --tcp-listen, ICE-TCP) impairer between clients and an ingress: loss (random, bursty), delay, jitter,\n" +
  "reordering, duplication, a rate limit, blackouts and NAT rebinding, with a seeded PRNG.\n" +
  'Point the advertised ingress address at --listen (a stack region\'s "impair" option does it).\n\n' +
  `profiles:\n${Object.entries(PROFILES)
    .map(([name, p]) => `  ${name.padEnd(9)} ${p.about}${p.spec ? ` (${p.spec})` : ""}`)
    .join("\n")}`;

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions("impair", ABOUT, specs, argv);
  if (!o) return;
  const overrides = Object.keys(PROFILE_FLAGS)
    .map((k) => [k, o[k as keyof typeof PROFILE_FLAGS]] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const profile = parseProfile([o.profile, ...overrides].join(","));
  if ((o["tcp-listen"] === undefined) !== (o["tcp-target"] === undefined))
    throw new Error("--tcp-listen and --tcp-target go together");
  const log = createLogger("impair");
  const impairer = await startImpairer({
    listen: parseEndpoint(o.listen, { bind: true })!,
    target: parseEndpoint(o.target)!,
    up: profile,
    down: profile,
    seed: o.seed,
    tcpListen: o["tcp-listen"] ? parseEndpoint(o["tcp-listen"], { bind: true }) : undefined,
    tcpTarget: o["tcp-target"] ? parseEndpoint(o["tcp-target"]) : undefined,
    tcpMaxBufferedBytes: o["tcp-max-buffered"],
    idleTimeoutMs: o["idle-timeout"] * 1000,
    log,
  });
  const admin =
    o.admin === "off" ? undefined : await startImpairAdmin(parseEndpoint(o.admin, { bind: true })!, impairer);
  log.info({ profile, admin: admin?.address }, "impairer ready");
  const stop = async () => {
    await admin?.close();
    await impairer.close();
    log.info({ stats: impairer.stats }, "impairer closed");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}
