/**
 * Authentication of the encapsulation between tiers (docs/encapsulation.md,
 * "Authentication"): every header carries a key id and an 8-byte token,
 *
 *   token = HMAC-SHA-256(key[key id], DOMAIN || kind, flags, port, address, key id)[0..8]
 *
 * a credential for one client address under one key. Only holders of the
 * encapsulation keys (relays and transceivers; not the edge, not clients) can
 * make one, so a sender on an allowed address without the key can neither
 * open, move nor use anyone's flow. The token depends on nothing but the
 * client address and the key: computed once when a flow opens and kept with
 * it, so a datagram of a known flow costs a byte compare, never an HMAC.
 * A full HMAC runs only for a client this side has no flow of yet.
 *
 * Two keys at a time, like the hint keys: senders use the current (first)
 * one, receivers accept both.
 */
import { createHmac } from "node:crypto";
import { type HintKeyring, parseKeyring } from "../../shared/hint.ts";
import { ENCAP_TOKEN_LEN, ENCAP_V4, ENCAP_V4_KEY_ID, ENCAP_V6_KEY_ID, encodeEncapHeader } from "./encap.ts";

const DOMAIN = Buffer.from("voice-edge/encap/v1\0", "latin1");
const NO_TOKEN = new Uint8Array(ENCAP_TOKEN_LEN);

/** What a receiver makes of a header's key id and token. */
export type EncapCheck = "ok" | "unknown-key" | "bad-token";

/** The encapsulation keys of a relay or transceiver: current (to send) and previous (accepted too). */
export class EncapKeys {
  readonly currentId: number;
  private readonly secrets = new Map<number, Uint8Array>();

  constructor(ring: HintKeyring) {
    this.currentId = ring.current.id;
    this.secrets.set(ring.current.id, ring.current.secret);
    if (ring.previous) this.secrets.set(ring.previous.id, ring.previous.secret);
  }

  /** Key ids accepted, the current one first. */
  get ids(): number[] {
    return [...this.secrets.keys()];
  }

  /** The header for a client under key `keyId` (default: current), token included. HMAC: cold paths only. */
  header(address: string, port: number, keyId = this.currentId): Buffer {
    if (!this.secrets.has(keyId)) throw new Error(`no encapsulation key with id ${keyId}`);
    const h = encodeEncapHeader(address, port, keyId, NO_TOKEN);
    const k = h.length - ENCAP_TOKEN_LEN;
    this.mac(keyId, h, 0, k).copy(h, k, 0, ENCAP_TOKEN_LEN);
    return h;
  }

  /**
   * Checks the header at buf[at..] (a well-formed one: encapHeaderLength >= 0)
   * by computing its token: for datagrams of a client without a flow.
   */
  check(buf: Uint8Array, at: number): EncapCheck {
    const k = at + (buf[at] === ENCAP_V4 ? ENCAP_V4_KEY_ID : ENCAP_V6_KEY_ID);
    const keyId = buf[k]!;
    if (!this.secrets.has(keyId)) return "unknown-key";
    const t = this.mac(keyId, buf, at, k + 1 - at);
    return sameToken(t, 0, buf, k + 1) ? "ok" : "bad-token";
  }

  /** One client's tokens under every key: what a flow keeps to check its datagrams. */
  credential(address: string, port: number): EncapCredential {
    const ids = this.ids;
    return new EncapCredential(
      this.header(address, port),
      ids.length > 1 ? this.header(address, port, ids[1]) : undefined,
    );
  }

  private mac(keyId: number, buf: Uint8Array, at: number, len: number): Buffer {
    return createHmac("sha256", this.secrets.get(keyId)!)
      .update(DOMAIN)
      .update(buf.subarray(at, at + len))
      .digest();
  }
}

/**
 * One client address's headers under each key of the ring, computed once: a
 * datagram that names this client is authentic when its key id and token are
 * one of these (a compare, no allocation).
 */
export class EncapCredential {
  /** The header under the current key: what this side sends in front of the client's datagrams. */
  readonly header: Buffer;
  private readonly other: Buffer | undefined;

  constructor(header: Buffer, other: Buffer | undefined) {
    this.header = header;
    this.other = other;
  }

  /**
   * Whether the header at buf[at..] (well-formed, of the same length) is, byte
   * for byte, one of this client's headers: the flow was looked up by the
   * header's address, so in practice this compares the key id and the token.
   */
  check(buf: Uint8Array, at: number): EncapCheck {
    const h = this.header;
    const n = h.length;
    const k = n - ENCAP_TOKEN_LEN - 1;
    const id = buf[at + k];
    const ref = id === h[k] ? h : this.other !== undefined && id === this.other[k] ? this.other : undefined;
    if (ref === undefined) return "unknown-key";
    let d = 0; // not short-circuited: constant time over the token
    for (let i = 0; i < n; i++) d |= ref[i]! ^ buf[at + i]!;
    return d === 0 ? "ok" : "bad-token";
  }
}

/** Parses "id:secret[,id:secret]" (as the hint keys; the first is current). Configuration only: throws. */
export function parseEncapKeys(spec: string): EncapKeys {
  return new EncapKeys(parseKeyring(spec, "encapsulation"));
}

/** Constant time over the token: its bytes are the secret-dependent part. */
function sameToken(a: Uint8Array, ai: number, b: Uint8Array, bi: number): boolean {
  let d = 0;
  for (let i = 0; i < ENCAP_TOKEN_LEN; i++) d |= a[ai + i]! ^ b[bi + i]!;
  return d === 0;
}
