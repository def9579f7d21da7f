/**
 * Who is calling: a server API key (from API_KEYS) or an ephemeral key this
 * edge minted. Sans-IO apart from Web Crypto; the route decides what each may do.
 */
import { equalBytes, type TokenKeyring } from "../../shared/signed-token.ts";
import { ApiError } from "../http/errors.ts";
import { EPHEMERAL_PREFIX, type EphemeralClaims, openEphemeralKey } from "./ephemeral-key.ts";
import { fingerprint } from "./fingerprint.ts";

export type Principal =
  | { kind: "api"; secret: string }
  | { kind: "ephemeral"; secret: string; claims: EphemeralClaims; expired: boolean };

/** The server API keys, compared through keyed fingerprints so the comparison leaks nothing useful. */
export class ApiKeySet {
  readonly size: number;
  private readonly keys: readonly string[];
  private fps: Promise<Uint8Array[]> | undefined;

  constructor(keys: readonly string[]) {
    this.keys = keys;
    this.size = keys.length;
  }

  async matches(ring: TokenKeyring, presented: string): Promise<boolean> {
    this.fps ??= Promise.all(this.keys.map((k) => fingerprint(ring, ring.current.id, k)));
    const [known, fp] = await Promise.all([this.fps, fingerprint(ring, ring.current.id, presented)]);
    let hit = false;
    for (const k of known) hit = equalBytes(k, fp) || hit;
    return hit;
  }
}

/** Parses API_KEYS: comma-separated. Throws with a clear message (configuration only). */
export function parseApiKeys(spec: string | undefined): ApiKeySet {
  const keys = (spec ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new Error("API_KEYS is empty: set at least one server API key");
  for (const k of keys) {
    if (k.startsWith(EPHEMERAL_PREFIX))
      throw new Error(`API_KEYS: keys must not start with "${EPHEMERAL_PREFIX}"`);
    if (k.length < 8 || /\s/.test(k)) throw new Error("API_KEYS: each key needs 8+ characters and no spaces");
  }
  return new ApiKeySet(keys);
}

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return m?.[1];
}

export interface AuthOptions {
  apiKeys: ApiKeySet;
  ring: TokenKeyring;
  nowMs: number;
  /** Accept ephemeral keys at all (minting new keys takes a server API key). */
  ephemeral: boolean;
  /** Accept an expired ephemeral key: hangup, since calls outlive the key that created them. */
  allowExpired?: boolean;
}

/** Resolves to the principal, or throws the 401 ApiError to send. */
export async function authenticate(header: string | null | undefined, opts: AuthOptions): Promise<Principal> {
  const token = bearerToken(header);
  if (!token) {
    throw new ApiError(
      401,
      "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
      "missing_api_key",
    );
  }
  if (token.startsWith(EPHEMERAL_PREFIX)) {
    if (!opts.ephemeral)
      throw new ApiError(
        401,
        "This endpoint requires a server API key, not an ephemeral key.",
        "invalid_api_key",
      );
    const r = await openEphemeralKey(opts.ring, token, opts.nowMs);
    if (!r.ok) throw new ApiError(401, "Incorrect ephemeral key provided.", "invalid_api_key");
    if (r.expired && !opts.allowExpired) {
      throw new ApiError(
        401,
        `The ephemeral key expired at ${new Date(r.claims.exp * 1000).toISOString()}. Create a new one.`,
        "expired_api_key",
      );
    }
    return { kind: "ephemeral", secret: token, claims: r.claims, expired: r.expired };
  }
  if (!(await opts.apiKeys.matches(opts.ring, token))) {
    throw new ApiError(401, "Incorrect API key provided.", "invalid_api_key");
  }
  return { kind: "api", secret: token };
}
