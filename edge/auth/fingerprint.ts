/**
 * Key fingerprints: a keyed hash of an API key or ephemeral key, so tokens can
 * name "the key that made this" without carrying or storing the key.
 */
import { macTag, type TokenKeyring } from "../../shared/signed-token.ts";

export const FINGERPRINT_BYTES = 8;
const DOMAIN = "voice-edge/key-fingerprint/v1";

export async function fingerprint(ring: TokenKeyring, keyId: number, secret: string): Promise<Uint8Array> {
  const tag = await macTag(ring, keyId, DOMAIN, new TextEncoder().encode(secret), FINGERPRINT_BYTES);
  if (!tag) throw new Error(`no signing key with id ${keyId}`);
  return tag;
}

/**
 * The fingerprints of one key under every signing key in the ring: a token
 * minted before a rotation still matches its key afterwards.
 */
export async function fingerprintsOf(ring: TokenKeyring, secret: string): Promise<Uint8Array[]> {
  const ids = ring.previous ? [ring.current.id, ring.previous.id] : [ring.current.id];
  return Promise.all(ids.map((id) => fingerprint(ring, id, secret)));
}
