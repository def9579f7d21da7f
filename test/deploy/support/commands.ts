/**
 * What each `voice-edge <command>` reads, from the code itself: the option specs
 * (flags and their environment variables) plus the few variables read elsewhere.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { vi } from "vitest";
import { main as relayMain, specs as relaySpecs } from "../../../media/relay/main.ts";
import type { OptionSpecs } from "../../../media/runtime/options.ts";
import * as options from "../../../media/runtime/options.ts";
import { transceiverSpecs } from "../../../media/transceiver/main.ts";
import type { CommandSpecs } from "./invariants.ts";
import { ROOT } from "./manifests.ts";

/** Variables read outside the option specs: name -> the file or directory that reads it. */
export const READ_ELSEWHERE: Record<string, { path: string; commands: string[]; pending?: string }> = {
  VOICE_EDGE_LOG_LEVEL: { path: "media/runtime/log.ts", commands: ["relay", "transceiver", "backend"] },
  VOICE_EDGE_BACKENDS: {
    path: "media/transceiver",
    commands: ["transceiver"],
    pending: "the transceiver's backend bridge (media/transceiver/bridge) is in progress",
  },
};

/** Commands the manifests run that may not exist yet: checked in full once they do. */
export const PENDING_COMMANDS: Record<string, string> = {
  backend: "`voice-edge backend` (media/backend) is in progress",
};

function sourceText(path: string): string {
  const abs = join(ROOT, path);
  if (!existsSync(abs)) return "";
  if (!path.endsWith(".ts"))
    return readdirSync(abs, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => readFileSync(join(abs, f), "utf8"))
      .join("\n");
  return readFileSync(abs, "utf8");
}

/** Is the variable named in the source that is said to read it? */
export function isReadAt(name: string): boolean {
  const entry = READ_ELSEWHERE[name];
  return entry !== undefined && new RegExp(`\\b${name}\\b`).test(sourceText(entry.path));
}

/** Does media/cli.ts register the command? (Read as text: importing the CLI runs it.) */
export function cliHas(command: string): boolean {
  return new RegExp(`^\\s*${command}: \\{`, "m").test(readFileSync(join(ROOT, "media/cli.ts"), "utf8"));
}

function isSpecs(v: unknown): v is OptionSpecs {
  return (
    typeof v === "object" &&
    v !== null &&
    Object.keys(v).length > 0 &&
    Object.values(v).every((s) => typeof s === "object" && s !== null && "schema" in s && "description" in s)
  );
}

/** The option specs a command module exports (whatever the export is called), if any. */
export async function specsOf(modulePath: string): Promise<OptionSpecs | undefined> {
  const mod = (await import(join(ROOT, modulePath))) as Record<string, unknown>;
  return Object.values(mod).find(isSpecs);
}

function extraFor(command: string): string[] {
  // Pending variables are allowed before the code reads them: the manifests run ahead.
  return Object.entries(READ_ELSEWHERE)
    .filter(([, e]) => e.commands.includes(command))
    .map(([name]) => name);
}

/**
 * The option specs `voice-edge relay` parses these arguments and this environment with.
 * The CLI picks them by tier (--tier, else VOICE_EDGE_RELAY_TIER): each tier refuses the
 * other tier's options and requires its own. media/relay/main.ts exports only the
 * default tier's specs, so its main() is run up to its option parsing, which is
 * intercepted there: nothing is parsed, bound or started.
 */
export function relaySpecsFor(argv: string[], env: Record<string, string | undefined>): OptionSpecs {
  let captured: OptionSpecs | undefined;
  const stop = new Error("stopped at option parsing");
  const spy = vi.spyOn(options, "parseOptions").mockImplementation((_command, _about, specs) => {
    captured = specs;
    throw stop;
  });
  const saved = process.env.VOICE_EDGE_RELAY_TIER;
  const tier = env.VOICE_EDGE_RELAY_TIER;
  if (tier === undefined) delete process.env.VOICE_EDGE_RELAY_TIER;
  else process.env.VOICE_EDGE_RELAY_TIER = tier;
  try {
    // main() picks the specs and parses before its first await: the capture is synchronous.
    relayMain(argv).catch((err: unknown) => {
      if (err !== stop) throw err;
    });
  } finally {
    spy.mockRestore();
    if (saved === undefined) delete process.env.VOICE_EDGE_RELAY_TIER;
    else process.env.VOICE_EDGE_RELAY_TIER = saved;
  }
  if (!captured) throw new Error("voice-edge relay did not parse its options synchronously");
  return captured;
}

export async function loadCommands(): Promise<Record<string, CommandSpecs>> {
  const out: Record<string, CommandSpecs> = {
    relay: { specs: relaySpecs, specsFor: relaySpecsFor, extra: extraFor("relay") },
    transceiver: { specs: transceiverSpecs, extra: extraFor("transceiver") },
  };
  if (cliHas("backend")) {
    const specs = await specsOf("media/backend/main.ts");
    if (!specs)
      throw new Error("media/cli.ts has a backend command but media/backend/main.ts exports no option specs");
    out.backend = { specs, extra: extraFor("backend") };
  }
  return out;
}
