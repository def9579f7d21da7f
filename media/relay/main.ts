/** `voice-edge relay`: run the stateless UDP forwarder until SIGTERM/SIGINT. */
import { z } from "zod";
import { parseKeyring } from "../../shared/hint.ts";
import { createLogger } from "../log.ts";
import { parseOptions } from "../options.ts";
import { parseEndpoint } from "./endpoint.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_FLOWS, startRelay } from "./server.ts";

const ABOUT =
  "Stateless UDP forwarder: opens a flow per client from a STUN Binding request whose ICE ufrag is a\n" +
  "valid routing hint, and relays the client's datagrams to the transceiver the hint names and back.";

const endpoint = (example: string) =>
  z
    .string()
    .refine((s) => parseEndpoint(s) !== undefined, `expected host:port with an IP literal, e.g. ${example}`);

export const specs = {
  listen: {
    env: "VOICE_EDGE_RELAY_LISTEN",
    schema: endpoint("0.0.0.0:3478 or [::]:3478").default("0.0.0.0:3478"),
    description: "public UDP socket for clients, host:port ([v6]:port)",
  },
  internal: {
    env: "VOICE_EDGE_RELAY_INTERNAL",
    schema: endpoint("10.0.0.5:0").default("0.0.0.0:0"),
    description: "internal UDP socket toward transceivers (its family must be theirs); port 0 = ephemeral",
  },
  cluster: {
    env: "VOICE_EDGE_CLUSTER",
    schema: z
      .string({ error: "required: this relay's cluster id, 0..65535" })
      .regex(/^\d+$/, "expected a cluster id 0..65535")
      .transform(Number)
      .pipe(z.number().max(65535, "expected a cluster id 0..65535")),
    description: "cluster id: only hints naming this cluster open flows (required)",
  },
  keys: {
    env: "VOICE_EDGE_HINT_KEYS",
    schema: z.string({ error: "required: id:secret[,id:secret]" }).min(1, "required: id:secret[,id:secret]"),
    description:
      "hint keys, id:secret[,id:secret] (hex or base64 secrets), as given to the signaling side (required)",
  },
  "idle-timeout": {
    env: "VOICE_EDGE_RELAY_IDLE_TIMEOUT",
    schema: z.coerce
      .number({ error: "expected seconds, a number > 0" })
      .positive("expected seconds, a number > 0")
      .default(DEFAULT_IDLE_TIMEOUT_MS / 1000),
    description: "seconds without a datagram from the client after which its flow is removed",
  },
  "max-flows": {
    env: "VOICE_EDGE_RELAY_MAX_FLOWS",
    schema: z.coerce
      .number({ error: "expected a positive integer" })
      .int("expected a positive integer")
      .positive("expected a positive integer")
      .default(DEFAULT_MAX_FLOWS),
    description: "size bound of the flow table; new flows are refused (and counted) when full",
  },
  admin: {
    env: "VOICE_EDGE_RELAY_ADMIN",
    schema: z
      .string()
      .refine((s) => s === "off" || parseEndpoint(s) !== undefined, 'expected host:port or "off"')
      .default("127.0.0.1:9478"),
    description: 'HTTP host:port for /metrics and /healthz, or "off"',
  },
};

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions("relay", ABOUT, specs, argv);
  if (!o) return;
  const keys = parseKeyring(o.keys);
  const log = createLogger("relay");
  const relay = await startRelay({
    listen: parseEndpoint(o.listen)!,
    internal: parseEndpoint(o.internal)!,
    cluster: o.cluster,
    keys,
    idleTimeoutMs: o["idle-timeout"] * 1000,
    maxFlows: o["max-flows"],
    admin: o.admin === "off" ? undefined : parseEndpoint(o.admin),
    logger: log,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, "relay stopping");
      relay.close().then(resolve, resolve);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
