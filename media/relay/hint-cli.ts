/**
 * `voice-edge hint`: mint or decode routing hints for operators debugging a
 * flow, and write a first STUN packet for load generators.
 */
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { decodeHint, mintHint, parseKeyring } from "../../shared/hint.ts";
import { parseEndpoint } from "../../shared/ip.ts";
import { parseOptions } from "../runtime/options.ts";
import { buildBindingRequest } from "../wire/stun-build.ts";

const specs = {
  keys: {
    env: "VOICE_EDGE_HINT_KEYS",
    schema: z.string().min(1, "required: id:secret[,id:secret]"),
    description: "hint keys, id:secret[,id:secret] (hex or base64 secrets); the first one mints",
  },
  decode: {
    schema: z.string().optional(),
    description: "decode this ufrag (or USERNAME server:client) and check its tag",
  },
  cluster: { schema: z.coerce.number().int().min(0).max(65535).optional(), description: "mint: cluster id" },
  transceiver: {
    schema: z
      .string()
      .refine((s) => parseEndpoint(s) !== undefined, "host:port with an IP literal")
      .optional(),
    description: "mint: owning transceiver's internal UDP endpoint, ip:port ([v6]:port)",
  },
  "stun-out": {
    schema: z.string().optional(),
    description: "mint: also write a STUN Binding request whose USERNAME carries the hint to this file",
  },
  password: {
    schema: z.string().optional(),
    description: "with --stun-out: add MESSAGE-INTEGRITY with this ICE password",
  },
};

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions("hint", "Mint or decode a routing hint.", specs, argv);
  if (!o) return;
  const keys = parseKeyring(o.keys);
  if (o.decode !== undefined) {
    const ufrag = o.decode.split(":")[0]!;
    const r = decodeHint(keys, ufrag);
    console.log(
      JSON.stringify(r.ok ? { ok: true, ...r.hint, nonce: Buffer.from(r.hint.nonce).toString("hex") } : r),
    );
    if (!r.ok) process.exitCode = 1;
    return;
  }
  if (o.cluster === undefined || !o.transceiver)
    throw new Error("mint needs --cluster and --transceiver (or --decode UFRAG)");
  const ufrag = mintHint(keys, { cluster: o.cluster, transceiver: parseEndpoint(o.transceiver)! });
  console.log(ufrag);
  if (o["stun-out"]) {
    writeFileSync(o["stun-out"], buildBindingRequest({ username: `${ufrag}:load`, password: o.password }));
  }
}
