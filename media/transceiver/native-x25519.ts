/**
 * werift's DTLS does its X25519 key exchange (the curve Chromium, Firefox and
 * werift offer first) with tweetnacl in JavaScript: ~2 ms for the key pair and
 * ~1 ms for the shared secret, on the event loop, per handshake. Node's crypto
 * (OpenSSL) does both in ~0.05 ms. werift reaches tweetnacl through its module
 * object (`nacl.box.keyPair()`, `nacl.scalarMult(n, p)`), so pointing those two
 * properties at native code makes every handshake in the process cheaper.
 * Installed by the werift seam; see docs/werift.md.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { createRequire } from "node:module";

interface Nacl {
  box: { keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } };
  scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array;
}

// RFC 8410 DER prefixes: a raw 32-byte X25519 key follows each.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const KEY_BYTES = 32;

function rawPrivate(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length));
}

function rawPublic(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length));
}

/** tweetnacl's `box.keyPair()`, natively. */
export function keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return { publicKey: rawPublic(publicKey), secretKey: rawPrivate(privateKey) };
}

/**
 * tweetnacl's `scalarMult(n, p)`: X25519 of a 32-byte secret and a peer's
 * 32-byte public value, natively. OpenSSL refuses a low-order peer value (all-
 * zero result) with an exception; for that, and for any input it will not
 * take, `fallback` (tweetnacl's own) answers as before, so a hostile
 * ClientHello fails its handshake where it did, not as a throw inside werift.
 */
export function scalarMult(n: Uint8Array, p: Uint8Array, fallback: Nacl["scalarMult"]): Uint8Array {
  if (n.length !== KEY_BYTES || p.length !== KEY_BYTES) return fallback(n, p);
  try {
    const privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, n]),
      format: "der",
      type: "pkcs8",
    });
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, p]), format: "der", type: "spki" });
    return new Uint8Array(diffieHellman({ privateKey, publicKey }));
  } catch {
    return fallback(n, p);
  }
}

let installed = false;

/** Points werift's tweetnacl at the native functions above (once per process). */
export function installNativeX25519(): void {
  if (installed) return;
  installed = true;
  // The tweetnacl werift itself resolves, wherever npm put it.
  const nacl = createRequire(import.meta.resolve("werift"))("tweetnacl") as Nacl;
  const js = nacl.scalarMult;
  nacl.box.keyPair = keyPair;
  // Keeps `scalarMult.base` and the length constants tweetnacl hangs on the function.
  nacl.scalarMult = Object.assign((n: Uint8Array, p: Uint8Array) => scalarMult(n, p, js), js);
}
