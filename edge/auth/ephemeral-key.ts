/**
 * Ephemeral keys ("ek_…", what POST /v1/realtime/client_secrets returns):
 * verifiable at any edge location without storage. The claims, including
 * the session config (instructions may be confidential), are sealed with
 * AES-256-GCM, so the browser holding the key can neither read nor alter them.
 *
 *   "ek_" + base64url( version (1) | key id (1) | iv | ciphertext | GCM tag )
 *   plaintext = deflate-raw(JSON claims)
 */
import { decodeBase64Url, encodeBase64Url } from "../../shared/base64.ts";
import { seal, type TokenKeyring, unseal } from "../../shared/signed-token.ts";
import { deflate, inflate } from "./compress.ts";

export const EPHEMERAL_PREFIX = "ek_";
const VERSION = 1;
const DOMAIN = "voice-edge/ephemeral-key/v1";
/** Longest key we try to open: bounds the work an attacker can make us do. */
export const MAX_EPHEMERAL_KEY_CHARS = 24_576;

export interface EphemeralClaims {
  /** Issued at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
  /** Fingerprint (base64url) of the API key that minted this key: its owner. */
  own: string;
  /** Session id reported to the client ("sess_…"). */
  sid: string;
  /** Realtime session config given at creation, applied to calls made with this key. */
  ses?: Record<string, unknown>;
}

export type EphemeralResult =
  | { ok: true; claims: EphemeralClaims; keyId: number; expired: boolean }
  | { ok: false; reason: "malformed" | "version" | "unknown-key" | "bad-seal" };

export async function mintEphemeralKey(ring: TokenKeyring, claims: EphemeralClaims): Promise<string> {
  const header = new Uint8Array([VERSION, ring.current.id]);
  const plaintext = await deflate(new TextEncoder().encode(JSON.stringify(claims)));
  const box = await seal(ring, DOMAIN, header, plaintext);
  const out = new Uint8Array(header.length + box.length);
  out.set(header, 0);
  out.set(box, header.length);
  return EPHEMERAL_PREFIX + encodeBase64Url(out);
}

/** Never throws on attacker input. `expired` is judged against `nowMs`; an expired key still carries its claims. */
export async function openEphemeralKey(
  ring: TokenKeyring,
  key: string,
  nowMs: number,
): Promise<EphemeralResult> {
  if (!key.startsWith(EPHEMERAL_PREFIX) || key.length > MAX_EPHEMERAL_KEY_CHARS) {
    return { ok: false, reason: "malformed" };
  }
  const bytes = decodeBase64Url(key.slice(EPHEMERAL_PREFIX.length));
  if (!bytes || bytes.length < 3) return { ok: false, reason: "malformed" };
  if (bytes[0] !== VERSION) return { ok: false, reason: "version" };
  const keyId = bytes[1]!;
  if (!ring.has(keyId)) return { ok: false, reason: "unknown-key" };
  const plaintext = await unseal(ring, keyId, DOMAIN, bytes.subarray(0, 2), bytes.subarray(2));
  if (!plaintext) return { ok: false, reason: "bad-seal" };
  try {
    const claims = JSON.parse(new TextDecoder().decode(await inflate(plaintext))) as EphemeralClaims;
    return { ok: true, claims, keyId, expired: claims.exp * 1000 <= nowMs };
  } catch {
    // Sealed by us, so unreachable unless the format changed without a version bump.
    return { ok: false, reason: "malformed" };
  }
}
