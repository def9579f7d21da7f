/**
 * Command options from flags and environment variables, validated with zod,
 * with a generated --help. Flags win over the environment, which wins over
 * defaults. Errors name the flag and the variable so an operator can fix them.
 */
import { parseArgs } from "node:util";
import type { z } from "zod";

export interface OptionSpec<T extends z.ZodType = z.ZodType> {
  /** Environment variable, e.g. VOICE_EDGE_RELAY_PORT. */
  env?: string;
  /** Flags are strings (or booleans for z.boolean()); the schema coerces and checks. */
  schema: T;
  description: string;
  boolean?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;
export type OptionValues<S extends OptionSpecs> = { [K in keyof S]: z.output<S[K]["schema"]> };

export class UsageError extends Error {}

export function parseOptions<S extends OptionSpecs>(
  command: string,
  about: string,
  specs: S,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): OptionValues<S> | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: "boolean", short: "h" },
      ...Object.fromEntries(
        Object.entries(specs).map(([k, s]) => [
          k,
          { type: s.boolean ? ("boolean" as const) : ("string" as const) },
        ]),
      ),
    },
  });
  if (values.help) {
    console.log(helpText(command, about, specs));
    return undefined;
  }
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [k, s] of Object.entries(specs)) {
    const raw = (values as Record<string, unknown>)[k] ?? (s.env ? env[s.env] : undefined);
    const input = s.boolean && typeof raw === "string" ? raw === "1" || raw === "true" : raw;
    const r = s.schema.safeParse(input);
    if (r.success) out[k] = r.data;
    else
      problems.push(
        `--${k}${s.env ? ` / ${s.env}` : ""}: ${r.error.issues.map((i) => i.message).join("; ")}`,
      );
  }
  if (problems.length) throw new UsageError(`invalid options:\n  ${problems.join("\n  ")}`);
  return out as OptionValues<S>;
}

export function helpText(command: string, about: string, specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([k, s]) => {
    const def = defaultOf(s.schema);
    return `  --${k}${s.env ? ` (${s.env})` : ""}\n      ${s.description}${def === undefined ? "" : ` [default: ${def}]`}`;
  });
  return `usage: voice-edge ${command} [options]\n\n${about}\n\noptions:\n${rows.join("\n")}\n  --help\n      show this help`;
}

function defaultOf(schema: z.ZodType): string | undefined {
  const r = schema.safeParse(undefined);
  if (!r.success || r.data === undefined) return undefined;
  return typeof r.data === "object" ? JSON.stringify(r.data) : String(r.data);
}
