/**
 * Keys and primitives for tokens the edge hands out and later verifies at any
 * location without storage: MAC tags (call ids), sealed boxes (ephemeral keys)
 * and key fingerprints. Web Crypto only, so it runs in Workers and Node.
 *
 * Each secret is stretched with HKDF-SHA-256 into one key per purpose
 * ("domain"), so a tag made for one kind of token never verifies as another.
 * A keyring holds the current key (mints) and optionally the previous one
 * (still verifies), so the secret rotates without breaking live tokens.
 */
import { commaList } from "./comma-list.ts";

export interface TokenKey {
  /** 0..255, carried in every token so the verifier picks the right secret. */
  id: number;
  secret: Uint8Array;
}

const MIN_SECRET_BYTES = 32;
const SALT = new TextEncoder().encode("voice-edge/token-salt/v1");
/** AES-GCM nonce length (bytes). */
export const IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/** Spelled this way because Node's and Workers' type libraries declare CryptoKey differently. */
type Key = Awaited<ReturnType<typeof crypto.subtle.deriveKey>>;

export class TokenKeyring {
  readonly current: TokenKey;
  readonly previous: TokenKey | undefined;
  // Derived CryptoKeys, per key id, domain and purpose: derivation is async and costs a few µs.
  private readonly derived = new Map<string, Promise<Key>>();

  constructor(current: TokenKey, previous?: TokenKey) {
    for (const k of previous ? [current, previous] : [current]) {
      if (!Number.isInteger(k.id) || k.id < 0 || k.id > 255)
        throw new Error(`signing key id ${k.id} is not 0..255`);
      if (k.secret.length < MIN_SECRET_BYTES) {
        throw new Error(`signing key ${k.id} is shorter than ${MIN_SECRET_BYTES} bytes`);
      }
    }
    if (previous && previous.id === current.id) throw new Error("the two signing keys need different ids");
    this.current = current;
    this.previous = previous;
  }

  has(id: number): boolean {
    return this.current.id === id || this.previous?.id === id;
  }

  /** @internal */
  key(id: number, domain: string, purpose: "mac" | "seal"): Promise<Key> | undefined {
    const k = this.current.id === id ? this.current : this.previous?.id === id ? this.previous : undefined;
    if (!k) return undefined;
    const cacheKey = `${id}\0${purpose}\0${domain}`;
    let p = this.derived.get(cacheKey);
    if (!p) {
      p = deriveKey(k.secret, domain, purpose);
      this.derived.set(cacheKey, p);
    }
    return p;
  }
}

async function deriveKey(secret: Uint8Array, domain: string, purpose: "mac" | "seal"): Promise<Key> {
  const ikm = await crypto.subtle.importKey("raw", copy(secret), "HKDF", false, ["deriveKey"]);
  const params = {
    name: "HKDF",
    hash: "SHA-256",
    salt: SALT,
    info: new TextEncoder().encode(`${purpose}:${domain}`),
  };
  return purpose === "mac"
    ? crypto.subtle.deriveKey(params, ikm, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"])
    : crypto.subtle.deriveKey(params, ikm, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/**
 * Parses EDGE_SIGNING_KEY: either one bare secret (key id 0) or
 * "id:secret[,id:secret]" with the current key first. Secrets are used as
 * their UTF-8 bytes and need at least 32 of them (e.g. `openssl rand -base64 32`).
 * Throws with a clear message: configuration only, never attacker input.
 */
export function parseSigningKeys(spec: string): TokenKeyring {
  const text = spec.trim();
  if (text === "") throw new Error("EDGE_SIGNING_KEY is empty");
  if (!/^\d{1,3}:/.test(text)) return new TokenKeyring({ id: 0, secret: utf8(text) });
  const parts = commaList(text);
  if (parts.length > 2) throw new Error("EDGE_SIGNING_KEY: give one or two keys as id:secret[,id:secret]");
  const keys = parts.map((p) => {
    const i = p.indexOf(":");
    if (!/^\d{1,3}$/.test(p.slice(0, i)))
      throw new Error(`EDGE_SIGNING_KEY: "${p.slice(0, 4)}…" is not id:secret`);
    return { id: Number(p.slice(0, i)), secret: utf8(p.slice(i + 1)) };
  });
  return new TokenKeyring(keys[0]!, keys[1]);
}

/** HMAC-SHA-256 over `data` in `domain`, truncated to `length` bytes. Undefined for an unknown key id. */
export async function macTag(
  ring: TokenKeyring,
  keyId: number,
  domain: string,
  data: Uint8Array,
  length: number,
): Promise<Uint8Array | undefined> {
  const key = ring.key(keyId, domain, "mac");
  if (!key) return undefined;
  const full = new Uint8Array(await crypto.subtle.sign("HMAC", await key, copy(data)));
  return full.slice(0, length);
}

/** Constant-time equality: tags are the only secret-dependent bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * AES-256-GCM with the current key: returns iv || ciphertext || tag.
 * `header` (e.g. version and key id bytes) is authenticated, not encrypted.
 */
export async function seal(
  ring: TokenKeyring,
  domain: string,
  header: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const key = await ring.key(ring.current.id, domain, "seal")!;
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: copy(header) }, key, copy(plaintext)),
  );
  const out = new Uint8Array(IV_BYTES + ct.length);
  out.set(iv, 0);
  out.set(ct, IV_BYTES);
  return out;
}

/** Opens what seal produced; undefined when the key id is unknown or anything was altered. */
export async function unseal(
  ring: TokenKeyring,
  keyId: number,
  domain: string,
  header: Uint8Array,
  box: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (box.length < IV_BYTES + GCM_TAG_BYTES) return undefined;
  const key = ring.key(keyId, domain, "seal");
  if (!key) return undefined;
  try {
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: box.slice(0, IV_BYTES), additionalData: copy(header) },
      await key,
      box.slice(IV_BYTES),
    );
    return new Uint8Array(pt);
  } catch {
    return undefined; // authentication failure: altered, truncated or foreign
  }
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

// Web Crypto wants an ArrayBuffer-backed view; a copy also detaches callers' buffers.
function copy(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}
