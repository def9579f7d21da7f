/**
 * What each `voice-edge <command>` reads, from the code itself: the option specs
 * (flags and their environment variables) plus the few variables read elsewhere.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { OptionSpecs } from "../../../media/options.ts";
import { specs as relaySpecs } from "../../../media/relay/main.ts";
import { transceiverSpecs } from "../../../media/transceiver/main.ts";
import type { CommandSpecs } from "./invariants.ts";
import { ROOT } from "./manifests.ts";

/** Variables read outside the option specs: name -> the file or directory that reads it. */
export const READ_ELSEWHERE: Record<string, { path: string; commands: string[]; pending?: string }> = {
  VOICE_EDGE_LOG_LEVEL: { path: "media/log.ts", commands: ["relay", "transceiver", "backend"] },
  REDIS_URL: {
    path: "media/relay",
    commands: ["relay"],
    pending: "the relay's Redis flow cache (media/relay) is in progress",
  },
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

export async function loadCommands(): Promise<Record<string, CommandSpecs>> {
  const out: Record<string, CommandSpecs> = {
    relay: { specs: relaySpecs, extra: extraFor("relay") },
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
