/**
 * Which backend serves a session: `--backends` maps model names to backend
 * URLs whose scheme names the protocol: `ws://` / `wss://` for ours
 * (docs/backend-protocol.md), `realtime+ws://` / `realtime+wss://` for an
 * OpenAI-Realtime-compatible server, `live+ws://` / `live+wss://` for a GPT-Live
 * server (docs/bridge.md). A session's model is its
 * config's `model`; a session that names none uses `default`; `*` catches every
 * model not named. No backends at all means echo mode (no bridge).
 */

export interface BridgeConfig {
  /** model name (or "default", "*") -> ws(s)://, realtime+ws(s):// or live+ws(s):// URL */
  backends: Record<string, string>;
  /** Reconnect attempts after a backend drops a live session (0: end the session). */
  reconnect: number;
  /** How long session creation waits for the backend's WebSocket to open. */
  connectTimeoutMs: number;
  /** A backend that has not read its audio for this long counts as failed (default 10 s). */
  stallTimeoutMs?: number;
  /** Opus encoder complexity (0-10) of the audio to the client; default DEFAULT_COMPLEXITY. */
  opusComplexity?: number;
  /** Bearer token sent to backends of our protocol, if set. */
  token?: string;
  /** Where Realtime and Live upstreams' keys are read (default process.env; the variable per backend: keyEnv). */
  env?: Record<string, string | undefined>;
}

/** The wire protocol a backend URL names. */
export type BackendProtocol = "voice-edge" | "realtime" | "live";

const SCHEMES: Record<string, BackendProtocol> = {
  "ws:": "voice-edge",
  "wss:": "voice-edge",
  "realtime+ws:": "realtime",
  "realtime+wss:": "realtime",
  "live+ws:": "live",
  "live+wss:": "live",
};

export function backendProtocol(url: string): BackendProtocol {
  const p = SCHEMES[new URL(url).protocol];
  if (!p) throw new Error(`backend URL "${url}" has an unknown scheme`);
  return p;
}

/** A session the bridge cannot serve; the session API turns it into an HTTP error. */
export class BackendError extends Error {
  readonly status: 400 | 502 | 503;
  readonly code: string;
  constructor(status: 400 | 502 | 503, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const NAME = /^(\*|[A-Za-z0-9][A-Za-z0-9._:/-]{0,127})$/;

/**
 * Parses `default=ws://127.0.0.1:8790/v1/agent,gpt-realtime=realtime+wss://...`, or one bare
 * URL, which then serves every model (`default` and `*`). Throws a readable error.
 */
export function parseBackends(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  const bare = spec.trim();
  if (/^[a-z+]+:\/\//.test(bare) && !bare.includes(",")) {
    const url = checkUrl(bare, "*");
    return { default: url, "*": url };
  }
  for (const raw of spec.split(",")) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq <= 0 || /^[a-z+]+:\/\//.test(part))
      throw new Error(`backend "${part}" is not model=ws://host:port/path`);
    const name = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (!NAME.test(name)) throw new Error(`backend model name "${name}" is not valid`);
    if (out[name]) throw new Error(`backend "${name}" is given twice`);
    out[name] = checkUrl(url, name);
  }
  return out;
}

function checkUrl(url: string, name: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`backend URL "${url}" for "${name}" is not a URL`);
  }
  if (!SCHEMES[u.protocol])
    throw new Error(
      `backend URL "${url}" for "${name}" must be ws://, wss://, realtime+ws(s):// or live+ws(s)://`,
    );
  if (u.username || u.password)
    throw new Error(`backend URL for "${name}" must not carry credentials (keys come from the environment)`);
  return u.toString();
}

/** The model a session asks for: its config's `model` if a non-empty string, else "default". */
export function sessionModel(session: unknown): string {
  const m = isObject(session) ? session.model : undefined;
  return typeof m === "string" && m.length > 0 ? m : "default";
}

/** The backend URL for a model, or a BackendError (400) naming what is configured. */
export function resolveBackend(backends: Record<string, string>, model: string): string {
  const url = backends[model] ?? backends["*"];
  if (url) return url;
  const known = Object.keys(backends).join(", ") || "none";
  throw new BackendError(
    400,
    "model_not_supported",
    model === "default"
      ? `the session names no model and no default backend is configured (configured: ${known})`
      : `no backend is configured for model "${model}" (configured: ${known})`,
  );
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
