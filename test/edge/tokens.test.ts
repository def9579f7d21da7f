import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { authenticate, bearerToken, parseApiKeys } from "../../edge/auth/authenticate.ts";
import { CALL_ID_PREFIX, mintCallId, openCallId } from "../../edge/auth/call-id.ts";
import { mintEphemeralKey, openEphemeralKey } from "../../edge/auth/ephemeral-key.ts";
import { fingerprint, fingerprintsOf } from "../../edge/auth/fingerprint.ts";
import { ApiError } from "../../edge/http/errors.ts";
import { decodeBase64Url, encodeBase64Url } from "../../shared/base64.ts";
import { parseSigningKeys, TokenKeyring } from "../../shared/signed-token.ts";

const secret = (fill: number) => new Uint8Array(32).fill(fill);
const ringA = new TokenKeyring({ id: 1, secret: secret(1) });
const ringB = new TokenKeyring({ id: 2, secret: secret(2) });
const rotated = new TokenKeyring({ id: 2, secret: secret(2) }, { id: 1, secret: secret(1) });
const NOW = 1_800_000_000_000;
const claims = (exp: number) => ({
  iat: exp - 600,
  exp,
  own: "AAAAAAAAAAA",
  sid: "sess_x",
  ses: { instructions: "be a pirate" },
});

/** Replaces the character at i with another base64url character. */
function flip(s: string, i: number): string {
  const c = s[i] === "A" ? "B" : "A";
  return s.slice(0, i) + c + s.slice(i + 1);
}

describe("base64url", () => {
  it("round-trips any bytes in the URL-safe alphabet", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64Url(bytes);
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(decodeBase64Url(text)).toEqual(bytes);
      }),
    );
  });

  it("rejects foreign characters, impossible lengths and non-canonical trailing bits", () => {
    expect(decodeBase64Url("ab+c")).toBeUndefined();
    expect(decodeBase64Url("abcde")).toBeUndefined();
    expect(decodeBase64Url("AB")).toBeUndefined(); // 'B' leaves non-zero trailing bits
    expect(decodeBase64Url("AA")).toEqual(new Uint8Array([0]));
  });
});

describe("signing keys", () => {
  it("accepts a bare secret as key 0 and id:secret pairs with the current key first", () => {
    expect(parseSigningKeys("x".repeat(32)).current.id).toBe(0);
    const ring = parseSigningKeys(`3:${"a".repeat(32)}, 2:${"b".repeat(40)}`);
    expect(ring.current.id).toBe(3);
    expect(ring.previous?.id).toBe(2);
  });

  it("refuses short secrets, duplicate ids and more than two keys with a clear message", () => {
    expect(() => parseSigningKeys("short")).toThrow(/shorter than 32 bytes/);
    expect(() => parseSigningKeys(`1:${"a".repeat(32)},1:${"b".repeat(32)}`)).toThrow(/different ids/);
    expect(() => parseSigningKeys(`1:${"a".repeat(32)},2:${"b".repeat(32)},3:${"c".repeat(32)}`)).toThrow(
      /one or two/,
    );
    expect(() => parseSigningKeys("  ")).toThrow(/empty/);
  });
});

describe("ephemeral keys", () => {
  it("start with ek_ and carry their claims, judged for expiry at open", async () => {
    const key = await mintEphemeralKey(ringA, claims(NOW / 1000 + 60));
    expect(key).toMatch(/^ek_[A-Za-z0-9_-]+$/);
    const fresh = await openEphemeralKey(ringA, key, NOW);
    expect(fresh).toMatchObject({ ok: true, expired: false, keyId: 1, claims: claims(NOW / 1000 + 60) });
    const later = await openEphemeralKey(ringA, key, NOW + 60_000);
    expect(later).toMatchObject({ ok: true, expired: true });
  });

  it("hide the session config from whoever holds the key", async () => {
    const key = await mintEphemeralKey(ringA, {
      ...claims(NOW / 1000 + 60),
      ses: { instructions: "SECRET-PROMPT-TEXT" },
    });
    const bytes = decodeBase64Url(key.slice(3))!;
    expect(new TextDecoder("latin1").decode(bytes)).not.toContain("SECRET");
  });

  it("fail to open after any single-character change", async () => {
    const key = await mintEphemeralKey(ringA, claims(NOW / 1000 + 60));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 3, max: key.length - 1 }), async (i) => {
        const r = await openEphemeralKey(ringA, flip(key, i), NOW);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it("open under the previous key after a rotation, and never under a foreign key", async () => {
    const key = await mintEphemeralKey(ringA, claims(NOW / 1000 + 60));
    expect((await openEphemeralKey(rotated, key, NOW)).ok).toBe(true);
    expect(await openEphemeralKey(ringB, key, NOW)).toEqual({ ok: false, reason: "unknown-key" });
    const sameIdOtherSecret = new TokenKeyring({ id: 1, secret: secret(9) });
    expect(await openEphemeralKey(sameIdOtherSecret, key, NOW)).toEqual({ ok: false, reason: "bad-seal" });
    expect(await openEphemeralKey(ringA, "ek_", NOW)).toEqual({ ok: false, reason: "malformed" });
    expect(await openEphemeralKey(ringA, `ek_${"A".repeat(30_000)}`, NOW)).toEqual({
      ok: false,
      reason: "malformed",
    });
  });
});

describe("call ids", () => {
  const fp = (n: number) => new Uint8Array(8).fill(n);

  it("round-trip cluster, session and fingerprints in a URL-safe rtc_ id", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 65535 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        async (cluster, session, creator) => {
          const id = await mintCallId(ringA, {
            cluster,
            session,
            issuedAt: 1_800_000_000,
            creator,
            owner: fp(7),
          });
          expect(id.startsWith(CALL_ID_PREFIX)).toBe(true);
          expect(id).toMatch(/^rtc_[A-Za-z0-9_-]+$/);
          const r = await openCallId(ringA, id);
          expect(r).toEqual({
            ok: true,
            route: { cluster, session, issuedAt: 1_800_000_000, creator, owner: fp(7) },
          });
        },
      ),
      { numRuns: 80 },
    );
  });

  it("reject any single-character change, foreign keys and junk", async () => {
    const id = await mintCallId(ringA, {
      cluster: 3,
      session: "abc_123",
      issuedAt: 1,
      creator: fp(1),
      owner: fp(2),
    });
    for (let i = CALL_ID_PREFIX.length; i < id.length; i++)
      expect((await openCallId(ringA, flip(id, i))).ok).toBe(false);
    expect((await openCallId(rotated, id)).ok).toBe(true);
    expect((await openCallId(ringB, id)).ok).toBe(false);
    expect((await openCallId(ringA, "rtc_")).ok).toBe(false);
    expect((await openCallId(ringA, "call_123")).ok).toBe(false);
  });

  it("refuse to mint a route the hangup URL could not carry", async () => {
    const route = { cluster: 1, issuedAt: 1, creator: fp(1), owner: fp(2) };
    await expect(mintCallId(ringA, { ...route, session: "../etc" })).rejects.toThrow(/session id/);
    await expect(mintCallId(ringA, { ...route, session: "x".repeat(65) })).rejects.toThrow(/session id/);
    await expect(mintCallId(ringA, { ...route, session: "ok", cluster: 70000 })).rejects.toThrow(/cluster/);
  });
});

describe("fingerprints", () => {
  it("differ per key and cover every signing key in the ring", async () => {
    const a = await fingerprint(ringA, 1, "sk-one-xxxx");
    expect(a).not.toEqual(await fingerprint(ringA, 1, "sk-two-xxxx"));
    const all = await fingerprintsOf(rotated, "sk-one-xxxx");
    expect(all).toHaveLength(2);
    expect(all).toContainEqual(a);
  });
});

describe("authenticate", () => {
  const apiKeys = parseApiKeys("sk-owner-0001, sk-other-0002");
  const opts = { apiKeys, ring: ringA, nowMs: NOW, ephemeral: true };
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
      return "ok";
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).status).toBe(401);
      return (e as ApiError).code;
    }
  };

  it("tells missing, wrong and expired keys apart", async () => {
    expect(await code(authenticate(undefined, opts))).toBe("missing_api_key");
    expect(await code(authenticate("Basic abc", opts))).toBe("missing_api_key");
    expect(await code(authenticate("Bearer sk-nope-0000", opts))).toBe("invalid_api_key");
    expect(await code(authenticate("Bearer ek_garbage", opts))).toBe("invalid_api_key");
    const expired = await mintEphemeralKey(ringA, claims(NOW / 1000 - 1));
    expect(await code(authenticate(`Bearer ${expired}`, opts))).toBe("expired_api_key");
    const p = await authenticate(`Bearer ${expired}`, { ...opts, allowExpired: true });
    expect(p).toMatchObject({ kind: "ephemeral", expired: true });
  });

  it("accepts server keys (any case of Bearer) and refuses ephemeral keys where a server key is required", async () => {
    expect(await authenticate("bearer sk-other-0002", opts)).toEqual({
      kind: "api",
      secret: "sk-other-0002",
    });
    const ek = await mintEphemeralKey(ringA, claims(NOW / 1000 + 60));
    expect(await code(authenticate(`Bearer ${ek}`, { ...opts, ephemeral: false }))).toBe("invalid_api_key");
    expect(bearerToken("Bearer  abc ")).toBe("abc");
  });

  it("parses API_KEYS strictly", () => {
    expect(() => parseApiKeys("")).toThrow(/API_KEYS is empty/);
    expect(() => parseApiKeys("ek_looks_ephemeral")).toThrow(/must not start/);
    expect(() => parseApiKeys("short")).toThrow(/8\+ characters/);
    expect(parseApiKeys("sk-aaaaaaaa,,sk-bbbbbbbb").size).toBe(2);
  });
});
