/**
 * CORS for browsers calling the edge directly (ephemeral keys). Keys travel
 * in Authorization, never in cookies, so any origin may call unless
 * CORS_ALLOW_ORIGINS narrows it. Preflights allow the headers OpenAI clients
 * send plus whatever the browser asks for; responses expose Location (the
 * call id) and the steering headers.
 */

export const BASE_ALLOWED_HEADERS = ["authorization", "content-type", "x-openai-agents-sdk", "openai-beta"];
export const EXPOSED_HEADERS = [
  "location",
  "x-request-id",
  "x-voice-edge-cluster",
  "x-voice-edge-region",
  "x-voice-edge-ingress",
  "x-voice-edge-ingress-address",
  "x-voice-edge-attempts",
  "retry-after",
];
const ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS";
const MAX_AGE_SECONDS = "86400";

export interface CorsPolicy {
  /** "*" or exact origins ("https://app.example.com"). */
  origins: "*" | ReadonlySet<string>;
}

export function parseCorsOrigins(spec: string | undefined): CorsPolicy {
  const list = (spec ?? "*")
    .split(",")
    .map((s) => s.trim().replace(/\/+$/, ""))
    .filter(Boolean);
  return { origins: list.length === 0 || list.includes("*") ? "*" : new Set(list) };
}

/** The Access-Control-Allow-Origin value for this request, or undefined when the origin is not allowed. */
export function allowOrigin(policy: CorsPolicy, origin: string | null): string | undefined {
  if (policy.origins === "*") return "*";
  return origin !== null && policy.origins.has(origin) ? origin : undefined;
}

/** Headers for an actual (non-preflight) response. */
export function corsHeaders(policy: CorsPolicy, origin: string | null): Record<string, string> {
  const allowed = allowOrigin(policy, origin);
  const vary: Record<string, string> = policy.origins === "*" ? {} : { vary: "Origin" };
  if (!allowed) return vary;
  return {
    ...vary,
    "access-control-allow-origin": allowed,
    "access-control-expose-headers": EXPOSED_HEADERS.join(", "),
  };
}

/** Headers for a preflight answer, or undefined when the origin is not allowed. */
export function preflightHeaders(
  policy: CorsPolicy,
  origin: string | null,
  requestedHeaders: string | null,
): Record<string, string> | undefined {
  const allowed = allowOrigin(policy, origin);
  if (!allowed) return undefined;
  const asked = (requestedHeaders ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h));
  const headers = [...new Set([...BASE_ALLOWED_HEADERS, ...asked])];
  return {
    "access-control-allow-origin": allowed,
    "access-control-allow-methods": ALLOWED_METHODS,
    "access-control-allow-headers": headers.join(", "),
    "access-control-max-age": MAX_AGE_SECONDS,
    vary:
      policy.origins === "*" ? "Access-Control-Request-Headers" : "Origin, Access-Control-Request-Headers",
  };
}
