/**
 * Everything a request needs from the environment, validated once per
 * isolate (and again only if a variable changes): topology, API keys,
 * signing keys, the transceiver token. Invalid settings yield a list of
 * problems for the logs; clients get a generic 500.
 */
import { DEV_SESSION_API_TOKEN } from "../shared/session-api.ts";
import { parseSigningKeys, type TokenKeyring } from "../shared/signed-token.ts";
import { type ApiKeySet, parseApiKeys } from "./auth/authenticate.ts";
import { DEV_API_KEY, DEV_SIGNING_KEY } from "./config/defaults.ts";
import { parseConfig } from "./config/parse.ts";
import type { EdgeConfig } from "./config/schema.ts";

export interface RuntimeVars {
  /** "dev" enables the built-in loopback topology and limits the edge to loopback hosts. */
  VOICE_EDGE_ENV?: string;
  VOICE_EDGE_CONFIG?: string;
  API_KEYS?: string;
  EDGE_SIGNING_KEY?: string;
  TRANSCEIVER_TOKEN?: string;
}

export interface Runtime {
  config: EdgeConfig;
  apiKeys: ApiKeySet;
  ring: TokenKeyring;
  /** Bearer token for the transceivers' session API. */
  transceiverToken: string;
}

export type RuntimeResult = { ok: true; runtime: Runtime } | { ok: false; errors: string[] };

const ENVIRONMENTS = ["dev", "staging", "production"];

let cached: { key: string; result: RuntimeResult } | undefined;

export function loadRuntime(vars: RuntimeVars): RuntimeResult {
  const key = JSON.stringify([
    vars.VOICE_EDGE_CONFIG,
    vars.API_KEYS,
    vars.EDGE_SIGNING_KEY,
    vars.TRANSCEIVER_TOKEN,
  ]);
  if (cached?.key === key) return cached.result;
  const result = buildRuntime(vars);
  if (!result.ok) console.error(`voice-edge: invalid configuration:\n  - ${result.errors.join("\n  - ")}`);
  cached = { key, result };
  return result;
}

export function buildRuntime(given: RuntimeVars): RuntimeResult {
  const vars =
    given.VOICE_EDGE_ENV === "dev"
      ? {
          API_KEYS: DEV_API_KEY,
          EDGE_SIGNING_KEY: DEV_SIGNING_KEY,
          TRANSCEIVER_TOKEN: DEV_SESSION_API_TOKEN,
          ...definedOnly(given),
        }
      : given;
  const errors: string[] = [];
  if (vars.VOICE_EDGE_ENV !== undefined && !ENVIRONMENTS.includes(vars.VOICE_EDGE_ENV)) {
    errors.push(`VOICE_EDGE_ENV must be one of ${ENVIRONMENTS.join(", ")}`);
  }
  // The built-in topology points at 127.0.0.1: never let a deployed edge fall back to it silently.
  if (!vars.VOICE_EDGE_CONFIG?.trim() && vars.VOICE_EDGE_ENV !== "dev") {
    errors.push(
      "VOICE_EDGE_CONFIG is not set (the built-in loopback topology is for VOICE_EDGE_ENV=dev only)",
    );
  }
  const config = parseConfig(vars.VOICE_EDGE_CONFIG);
  if (!config.ok) {
    errors.push(
      ...config.errors.map((e) => (e.startsWith("VOICE_EDGE_CONFIG") ? e : `VOICE_EDGE_CONFIG ${e}`)),
    );
  }
  const apiKeys = attempt(() => parseApiKeys(vars.API_KEYS), errors);
  const ring = vars.EDGE_SIGNING_KEY
    ? attempt(() => parseSigningKeys(vars.EDGE_SIGNING_KEY!), errors)
    : void errors.push("EDGE_SIGNING_KEY is not set");
  // Every transceiver requires one (docs/transceiver.md): without it every call would fail with 401.
  const token = vars.TRANSCEIVER_TOKEN?.trim();
  if (!token) errors.push("TRANSCEIVER_TOKEN is not set (the transceivers' session API token)");
  if (errors.length > 0 || !config.ok || !apiKeys || !ring || !token) return { ok: false, errors };
  return { ok: true, runtime: { config: config.config, apiKeys, ring, transceiverToken: token } };
}

function attempt<T>(f: () => T, errors: string[]): T | undefined {
  try {
    return f();
  } catch (e) {
    errors.push((e as Error).message);
    return undefined;
  }
}

function definedOnly(vars: RuntimeVars): RuntimeVars {
  return Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== undefined && v !== ""));
}
