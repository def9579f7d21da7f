/**
 * Start-up validation of VOICE_EDGE_CONFIG: JSON text in, a typed config or a
 * list of readable problems ("pools[1].endpoint: must be an http(s) URL") out.
 */

import { DEFAULT_TOPOLOGY } from "./defaults.ts";
import { ConfigSchema, type EdgeConfig } from "./schema.ts";

export type ConfigResult = { ok: true; config: EdgeConfig } | { ok: false; errors: string[] };

/** Undefined or blank text selects the built-in development topology. */
export function parseConfig(text: string | undefined): ConfigResult {
  let raw: unknown = DEFAULT_TOPOLOGY;
  if (text !== undefined && text.trim() !== "") {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      return { ok: false, errors: [`VOICE_EDGE_CONFIG is not JSON: ${(e as Error).message}`] };
    }
  }
  return validateConfig(raw);
}

export function validateConfig(raw: unknown): ConfigResult {
  const r = ConfigSchema.safeParse(raw);
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, errors: r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out;
}
