/**
 * Call ids carry an authenticated route: the cluster and the transceiver
 * session that own the call, plus fingerprints of the key that created it and
 * of that key's owner. Hangup needs no lookup table, as the ufrag does for media.
 *
 *   "rtc_" + base64url(
 *     version (1) | key id (1) | cluster (2) | issued at, s (4) |
 *     creator fingerprint (8) | owner fingerprint (8) |
 *     session id length (1) | session id (1..64, [A-Za-z0-9_-]) |
 *     tag: HMAC-SHA-256(DOMAIN key, all of the above)[0..16] )
 */
import { decodeBase64Url, encodeBase64Url } from "../../shared/base64.ts";
import { SESSION_ID_PATTERN } from "../../shared/session-api.ts";
import { equalBytes, macTag, type TokenKeyring } from "../../shared/signed-token.ts";
import { FINGERPRINT_BYTES } from "./fingerprint.ts";

export const CALL_ID_PREFIX = "rtc_";
const VERSION = 1;
const DOMAIN = "voice-edge/call-id/v1";
const TAG_BYTES = 16;
const HEAD_BYTES = 1 + 1 + 2 + 4 + FINGERPRINT_BYTES * 2 + 1;
const MAX_CALL_ID_CHARS = CALL_ID_PREFIX.length + Math.ceil(((HEAD_BYTES + 64 + TAG_BYTES) * 4) / 3);

export interface CallRoute {
  cluster: number;
  session: string;
  issuedAt: number;
  creator: Uint8Array;
  owner: Uint8Array;
}

export type CallIdResult =
  | { ok: true; route: CallRoute }
  | { ok: false; reason: "malformed" | "unknown-key" | "bad-tag" };

/** Throws on bad arguments: these come from our own config and the transceiver, not the caller. */
export async function mintCallId(ring: TokenKeyring, route: CallRoute): Promise<string> {
  const { cluster, session, issuedAt, creator, owner } = route;
  if (!Number.isInteger(cluster) || cluster < 0 || cluster > 0xffff)
    throw new Error(`cluster id ${cluster} is not 0..65535`);
  if (!SESSION_ID_PATTERN.test(session)) throw new Error("session id is not 1..64 of [A-Za-z0-9_-]");
  if (creator.length !== FINGERPRINT_BYTES || owner.length !== FINGERPRINT_BYTES)
    throw new Error("bad fingerprint length");
  const body = new Uint8Array(HEAD_BYTES + session.length);
  const view = new DataView(body.buffer);
  body[0] = VERSION;
  body[1] = ring.current.id;
  view.setUint16(2, cluster);
  view.setUint32(4, Math.max(0, Math.floor(issuedAt)) >>> 0);
  body.set(creator, 8);
  body.set(owner, 8 + FINGERPRINT_BYTES);
  body[HEAD_BYTES - 1] = session.length;
  for (let i = 0; i < session.length; i++) body[HEAD_BYTES + i] = session.charCodeAt(i);
  const tag = (await macTag(ring, ring.current.id, DOMAIN, body, TAG_BYTES))!;
  const out = new Uint8Array(body.length + TAG_BYTES);
  out.set(body, 0);
  out.set(tag, body.length);
  return CALL_ID_PREFIX + encodeBase64Url(out);
}

/** Never throws on attacker input. */
export async function openCallId(ring: TokenKeyring, callId: string): Promise<CallIdResult> {
  if (!callId.startsWith(CALL_ID_PREFIX) || callId.length > MAX_CALL_ID_CHARS)
    return { ok: false, reason: "malformed" };
  const bytes = decodeBase64Url(callId.slice(CALL_ID_PREFIX.length));
  if (!bytes || bytes.length < HEAD_BYTES + 1 + TAG_BYTES || bytes[0] !== VERSION)
    return { ok: false, reason: "malformed" };
  const sidLen = bytes[HEAD_BYTES - 1]!;
  if (bytes.length !== HEAD_BYTES + sidLen + TAG_BYTES) return { ok: false, reason: "malformed" };
  const keyId = bytes[1]!;
  const body = bytes.subarray(0, HEAD_BYTES + sidLen);
  const expected = await macTag(ring, keyId, DOMAIN, body, TAG_BYTES);
  if (!expected) return { ok: false, reason: "unknown-key" };
  if (!equalBytes(expected, bytes.subarray(body.length))) return { ok: false, reason: "bad-tag" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const session = String.fromCharCode(...bytes.subarray(HEAD_BYTES, HEAD_BYTES + sidLen));
  // Authenticated, so only a format change could make this fail; check anyway before it reaches a URL.
  if (!SESSION_ID_PATTERN.test(session)) return { ok: false, reason: "malformed" };
  return {
    ok: true,
    route: {
      cluster: view.getUint16(2),
      issuedAt: view.getUint32(4),
      creator: bytes.slice(8, 8 + FINGERPRINT_BYTES),
      owner: bytes.slice(8 + FINGERPRINT_BYTES, 8 + FINGERPRINT_BYTES * 2),
      session,
    },
  };
}
