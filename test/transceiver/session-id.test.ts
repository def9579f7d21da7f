import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddressSet } from "../../media/relay/config.ts";
import { TransceiverPool } from "../../media/transceiver/pool.ts";
import { mintLocalSessionId, SessionIds, workerOf } from "../../media/transceiver/session-id.ts";
import { HintKeyring } from "../../shared/hint.ts";
import { SESSION_ID_PATTERN } from "../../shared/session-api.ts";

const key = (id: number, fill: number) => ({ id, secret: new Uint8Array(32).fill(fill) });
const ids = new SessionIds(new HintKeyring(key(1, 1)));

describe("session ids", () => {
  it("local ids name their worker", () => {
    for (const w of [0, 7, 255]) expect(workerOf(mintLocalSessionId(w))).toBe(w);
    for (const bad of ["", "w_abc", "wx_0123456789abcdef", "w0_short", "x0_0123456789abcdef"])
      expect(workerOf(bad)).toBeUndefined();
  });

  it("round-trip the host (IPv4 and IPv6) and the local id, within the edge's id alphabet", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.constant("fd00::7"), fc.constant("::1"), fc.constant("2001:db8::ffff:1")),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 0, max: 255 }),
        (address, port, worker) => {
          const local = mintLocalSessionId(worker);
          const id = ids.mint({ address, port }, local);
          expect(id).toMatch(SESSION_ID_PATTERN);
          expect(ids.open(id)).toEqual({ host: { address, port }, local });
        },
      ),
    );
  });

  it("refuse ids another cluster or a forger made, and any other change, without throwing", () => {
    const local = mintLocalSessionId(0);
    const id = ids.mint({ address: "10.0.0.1", port: 8801 }, local);
    expect(new SessionIds(new HintKeyring(key(1, 2))).open(id)).toBeUndefined();
    expect(new SessionIds(new HintKeyring(key(2, 1))).open(id)).toBeUndefined();
    // Another local id under a valid host part, and every single-character change.
    expect(ids.open(id.replace(local, mintLocalSessionId(0)))).toBeUndefined();
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < id.length - local.length - 1; i++) {
      const c = alphabet[(alphabet.indexOf(id[i]!) + 1) % 64]!;
      expect(ids.open(id.slice(0, i) + c + id.slice(i + 1))).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(ids.open(`h4${s}`)).toBeUndefined();
        ids.open(s);
      }),
    );
  });

  it("still open ids minted with the previous key after a rotation", () => {
    const id = ids.mint({ address: "10.0.0.1", port: 8801 }, mintLocalSessionId(1));
    const rotated = new SessionIds(new HintKeyring(key(2, 9), key(1, 1)));
    expect(rotated.open(id)).toMatchObject({ host: { address: "10.0.0.1", port: 8801 } });
  });
});

describe("where the pool sends a request for a session id", () => {
  const here = { address: "10.0.0.1", port: 8801 };
  const local = mintLocalSessionId(0);

  it("keeps its own and local ids here, names a peer only for an id signed by the cluster", () => {
    const pool = new TransceiverPool(1, [], ids);
    pool.setHost(here);
    expect(pool.resolve(ids.mint(here, local))).toEqual({ local });
    expect(pool.resolve(local)).toEqual({ local });
    const peer = { address: "192.0.2.9", port: 8801 };
    expect(pool.resolve(ids.mint(peer, local))).toEqual({ remote: peer });
    const forger = new SessionIds(new HintKeyring(key(1, 7)));
    expect(pool.resolve(forger.mint(peer, local))).toBeUndefined();
  });

  it("with --peers, names no host outside them even for a signed id", () => {
    const pool = new TransceiverPool(1, [], ids, AddressSet.parse("10.0.0.0/16"));
    pool.setHost(here);
    const inside = { address: "10.0.3.4", port: 8801 };
    expect(pool.resolve(ids.mint(inside, local))).toEqual({ remote: inside });
    expect(pool.resolve(ids.mint({ address: "10.1.0.1", port: 8801 }, local))).toBeUndefined();
    expect(pool.resolve(ids.mint({ address: "fd00::1", port: 8801 }, local))).toBeUndefined();
  });

  it("without keys, knows local ids only", () => {
    const pool = new TransceiverPool(1, []);
    expect(pool.resolve(local)).toEqual({ local });
    expect(pool.resolve(ids.mint(here, local))).toBeUndefined();
  });
});
