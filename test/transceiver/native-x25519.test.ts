import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { installNativeX25519, keyPair, scalarMult } from "../../media/transceiver/native-x25519.ts";

const nacl = createRequire(import.meta.resolve("werift"))("tweetnacl") as {
  box: { keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } };
  scalarMult: ((n: Uint8Array, p: Uint8Array) => Uint8Array) & { base(n: Uint8Array): Uint8Array };
};
const js = nacl.scalarMult;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("native X25519 for werift's DTLS", () => {
  it("matches RFC 7748's test vector", () => {
    // RFC 7748 section 6.1: Alice's private key, Bob's public key, their shared secret.
    const a = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex");
    const bobPublic = Buffer.from("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", "hex");
    expect(hex(scalarMult(a, bobPublic, js))).toBe(
      "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
    );
  });

  it("makes key pairs tweetnacl agrees with, and the same secrets on both sides", () => {
    const alice = keyPair();
    const bob = keyPair();
    expect(alice.secretKey.buffer.byteLength).toBe(32); // werift reads `.buffer`
    expect(hex(js.base(alice.secretKey))).toBe(hex(alice.publicKey));
    expect(hex(scalarMult(alice.secretKey, bob.publicKey, js))).toBe(hex(js(bob.secretKey, alice.publicKey)));
  });

  it("answers a low-order peer value as tweetnacl does instead of throwing", () => {
    const zero = new Uint8Array(32);
    expect(hex(scalarMult(keyPair().secretKey, zero, js))).toBe(hex(new Uint8Array(32)));
  });

  it("is what werift's tweetnacl calls once installed", () => {
    installNativeX25519();
    const pair = nacl.box.keyPair();
    expect(hex(js.base(pair.secretKey))).toBe(hex(pair.publicKey));
    expect(nacl.scalarMult).not.toBe(js);
    expect(nacl.scalarMult.base).toBe(js.base);
  });
});
