/**
 * Routing hint codec: the server ICE ufrag names the cluster and the owning
 * transceiver, authenticated with a truncated HMAC-SHA-256 over all of it.
 *
 * Wire layout (big-endian), then base64 without padding (ICE's ufrag alphabet
 * is exactly ALPHA / DIGIT / "+" / "/"):
 *
 *   0      version (1)
 *   1      key id (0..255)
 *   2..3   cluster id (0..65535)
 *   4      address family (4 or 6)
 *   5..    transceiver address (4 or 16 bytes), then its port (2 bytes)
 *   ..     nonce (6 bytes)
 *   ..     tag: HMAC-SHA-256(key, DOMAIN || all of the above)[0..10]
 *
 * IPv4: 27 bytes -> 36 characters; IPv6: 39 bytes -> 52 characters.
 * Pure code (no I/O, no node: imports) so it runs in Workers and Node alike.
 * Decoding never throws on attacker input: it returns a reason.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { decodeBase64, decodeBase64Into, encodeBase64 } from "./base64.ts";
import { commaList } from "./comma-list.ts";
import { decodeIpLiteral, formatIp } from "./ip.ts";

export const HINT_VERSION = 1;
const NONCE_LEN = 6;
const TAG_LEN = 10;
const HEAD_LEN = 5; // version, key id, cluster (2), family
const DOMAIN = new TextEncoder().encode("voice-edge/hint/v1\0");
const MAX_HINT_BYTES = HEAD_LEN + 16 + 2 + NONCE_LEN + TAG_LEN;
const MIN_HINT_BYTES = HEAD_LEN + 4 + 2 + NONCE_LEN + TAG_LEN;
/** Longest and shortest ufrag a valid hint encodes to. */
export const HINT_MAX_CHARS = Math.ceil((MAX_HINT_BYTES * 4) / 3);
export const HINT_MIN_CHARS = Math.ceil((MIN_HINT_BYTES * 4) / 3);

export interface Endpoint {
  /** IPv4 dotted quad or IPv6 literal. */
  address: string;
  port: number;
}

export interface RoutingHint {
  version: number;
  keyId: number;
  cluster: number;
  transceiver: Endpoint;
  nonce: Uint8Array;
}

export type HintFailure = "length" | "charset" | "version" | "unknown-key" | "family" | "port" | "bad-tag";

export type HintResult = { ok: true; hint: RoutingHint } | { ok: false; reason: HintFailure };

export interface HintKey {
  id: number;
  secret: Uint8Array;
}

type Mac = ReturnType<typeof hmac.create>;

/**
 * The keys a relay or transceiver accepts: the current one (used to mint) and
 * optionally the previous one, so keys rotate without breaking live flows.
 */
export class HintKeyring {
  readonly current: HintKey;
  readonly previous: HintKey | undefined;
  // Keyed HMAC states, cloned per use: saves re-deriving the padded key.
  private readonly macs = new Map<number, Mac>();

  /** `what` names the keys in errors: the same ring also holds the encapsulation keys (media/wire/encap-auth.ts). */
  constructor(current: HintKey, previous?: HintKey, what = "hint") {
    for (const k of previous ? [current, previous] : [current]) {
      if (!Number.isInteger(k.id) || k.id < 0 || k.id > 255)
        throw new Error(`${what} key id ${k.id} is not 0..255`);
      if (k.secret.length < 16) throw new Error(`${what} key ${k.id} is shorter than 16 bytes`);
      this.macs.set(k.id, hmac.create(sha256, k.secret));
    }
    if (previous && previous.id === current.id) throw new Error(`the two ${what} keys need different ids`);
    this.current = current;
    this.previous = previous;
  }

  /** @internal */
  tag(keyId: number, body: Uint8Array, out: Uint8Array, outOffset: number): boolean {
    const base = this.macs.get(keyId);
    if (!base) return false;
    const mac = base.clone();
    mac.update(DOMAIN);
    mac.update(body);
    const digest = mac.digest();
    out.set(digest.subarray(0, TAG_LEN), outOffset);
    return true;
  }
}

/**
 * Parses "id:secret[,id:secret]" (secret in base64 or hex, at least 16 bytes);
 * the first key is current. Throws with a clear message: configuration only.
 * `what` names the keys in errors ("hint", "encapsulation").
 */
export function parseKeyring(spec: string, what = "hint"): HintKeyring {
  const parts = commaList(spec);
  if (parts.length < 1 || parts.length > 2) {
    throw new Error(`${what} keys: give one or two keys as id:secret[,id:secret]`);
  }
  const keys = parts.map((p) => {
    const i = p.indexOf(":");
    if (i <= 0) throw new Error(`${what} keys: "${p.slice(0, 8)}…" is not id:secret`);
    const id = Number(p.slice(0, i));
    const raw = p.slice(i + 1);
    const secret = /^[0-9a-fA-F]+$/.test(raw) && raw.length % 2 === 0 ? fromHex(raw) : fromBase64Loose(raw);
    if (!secret) throw new Error(`${what} keys: the secret of key ${id} is neither hex nor base64`);
    return { id, secret };
  });
  return new HintKeyring(keys[0]!, keys[1], what);
}

export interface MintOptions {
  cluster: number;
  transceiver: Endpoint;
  /** Random if omitted (crypto.getRandomValues). */
  nonce?: Uint8Array;
  /** Defaults to the keyring's current key. */
  keyId?: number;
}

/** Builds the ufrag for a new session. Throws on bad arguments (our own input, not attacker input). */
export function mintHint(keys: HintKeyring, opts: MintOptions): string {
  const { cluster, transceiver } = opts;
  if (!Number.isInteger(cluster) || cluster < 0 || cluster > 0xffff)
    throw new Error(`cluster id ${cluster} is not 0..65535`);
  const { port } = transceiver;
  if (!Number.isInteger(port) || port < 1 || port > 0xffff)
    throw new Error(`transceiver port ${port} is not 1..65535`);
  const addr = decodeIpLiteral(transceiver.address);
  if (!addr) throw new Error(`transceiver address "${transceiver.address}" is not an IP literal`);
  const keyId = opts.keyId ?? keys.current.id;
  const nonce = opts.nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_LEN));
  if (nonce.length !== NONCE_LEN) throw new Error(`nonce must be ${NONCE_LEN} bytes`);

  const bodyLen = HEAD_LEN + addr.length + 2 + NONCE_LEN;
  const buf = new Uint8Array(bodyLen + TAG_LEN);
  buf[0] = HINT_VERSION;
  buf[1] = keyId;
  buf[2] = cluster >>> 8;
  buf[3] = cluster & 0xff;
  buf[4] = addr.length === 4 ? 4 : 6;
  buf.set(addr, HEAD_LEN);
  let o = HEAD_LEN + addr.length;
  buf[o++] = port >>> 8;
  buf[o++] = port & 0xff;
  buf.set(nonce, o);
  if (!keys.tag(keyId, buf.subarray(0, bodyLen), buf, bodyLen))
    throw new Error(`no hint key with id ${keyId}`);
  return encodeBase64(buf);
}

// Scratch space for decoding: hints are at most MAX_HINT_BYTES, and decoding is synchronous.
const scratch = new Uint8Array(MAX_HINT_BYTES);
const tagScratch = new Uint8Array(TAG_LEN);

/** Decodes and authenticates a ufrag given as a string. */
export function decodeHint(keys: HintKeyring, ufrag: string): HintResult {
  const n = ufrag.length;
  if (n < HINT_MIN_CHARS || n > HINT_MAX_CHARS) return { ok: false, reason: "length" };
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = ufrag.charCodeAt(i);
    if (c > 0x7f) return { ok: false, reason: "charset" };
    bytes[i] = c;
  }
  return decodeHintBytes(keys, bytes, 0, n);
}

/**
 * Decodes and authenticates a ufrag given as ASCII bytes (e.g. straight out of
 * a STUN USERNAME), without building a string. Fails fast on length and
 * charset before any hashing.
 */
export function decodeHintBytes(keys: HintKeyring, src: Uint8Array, start: number, end: number): HintResult {
  const n = end - start;
  if (n < HINT_MIN_CHARS || n > HINT_MAX_CHARS) return { ok: false, reason: "length" };
  const len = decodeBase64Into(src, start, end, scratch);
  if (len < 0) return { ok: false, reason: "charset" };
  if (len !== MIN_HINT_BYTES && len !== MAX_HINT_BYTES) return { ok: false, reason: "length" };
  if (scratch[0] !== HINT_VERSION) return { ok: false, reason: "version" };
  const family = scratch[4];
  const addrLen = family === 4 ? 4 : family === 6 ? 16 : 0;
  if (addrLen === 0) return { ok: false, reason: "family" };
  const bodyLen = HEAD_LEN + addrLen + 2 + NONCE_LEN;
  if (len !== bodyLen + TAG_LEN) return { ok: false, reason: "length" };
  const keyId = scratch[1]!;
  if (!keys.tag(keyId, scratch.subarray(0, bodyLen), tagScratch, 0))
    return { ok: false, reason: "unknown-key" };
  // Constant-time compare: the tag is the only secret-dependent part.
  let diff = 0;
  for (let i = 0; i < TAG_LEN; i++) diff |= tagScratch[i]! ^ scratch[bodyLen + i]!;
  if (diff !== 0) return { ok: false, reason: "bad-tag" };

  const portAt = HEAD_LEN + addrLen;
  const port = (scratch[portAt]! << 8) | scratch[portAt + 1]!;
  if (port === 0) return { ok: false, reason: "port" };
  return {
    ok: true,
    hint: {
      version: HINT_VERSION,
      keyId,
      cluster: (scratch[2]! << 8) | scratch[3]!,
      transceiver: { address: formatIp(scratch.subarray(HEAD_LEN, HEAD_LEN + addrLen)), port },
      nonce: scratch.slice(portAt + 2, portAt + 2 + NONCE_LEN),
    },
  };
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function fromBase64Loose(s: string): Uint8Array | undefined {
  return decodeBase64(s.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/"));
}
