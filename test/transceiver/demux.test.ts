import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckReplay } from "../../media/transceiver/check-replay.ts";
import { Demux, type DemuxSession } from "../../media/transceiver/demux.ts";
import { ENCAP_V4_LEN, ENCAP_V6_LEN, encapKeyId } from "../../media/wire/encap.ts";
import { parseEncapKeys } from "../../media/wire/encap-auth.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";
import { encapKeys, encapped, strangerEncapKeys } from "../support/relay-fixtures.ts";

class FakeSession implements DemuxSession {
  readonly creds: Record<string, string>;
  readonly checks = new CheckReplay();
  constructor(creds: Record<string, string>) {
    this.creds = creds;
  }
  passwordFor(ufrag: string) {
    return this.creds[ufrag];
  }
}

const PWD = "abcdefghijklmnopqrstuvwx";
const encap = (addr: string, port: number, payload: Buffer) => encapped(addr, port, payload);
const rtp = Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9]);

function setup() {
  const d = new Demux<FakeSession>(encapKeys);
  const s = new FakeSession({ UFRAGserver: PWD });
  d.addUfrag("UFRAGserver", s);
  return { d, s };
}

describe("transceiver demux", () => {
  it("a check replayed from another client address binds nothing; its retransmission and a rebinding's new check do", () => {
    const { d, s } = setup();
    const check = buildBindingRequest({ username: "UFRAGserver:cli", password: PWD, useCandidate: true });
    expect(d.route(encap("198.51.100.7", 40000, check), "10.0.0.2", 3478)?.session).toBe(s);
    // The same bytes (valid integrity) from an attacker who saw them: dropped, no flow for it.
    expect(d.route(encap("203.0.113.9", 5555, check), "10.0.0.2", 3478)).toBeUndefined();
    expect(d.lastDrop).toBe("replayed-check");
    expect(d.stats.drops["replayed-check"]).toBe(1);
    expect(d.route(encap("203.0.113.9", 5555, rtp), "10.0.0.2", 3478)).toBeUndefined();
    expect(d.lastDrop).toBe("unknown-client");
    // A retransmission from the client's own address still routes.
    expect(d.route(encap("198.51.100.7", 40000, check), "10.0.0.2", 3478)?.session).toBe(s);
    // A NAT rebinding sends a new check (new transaction id) from its new address: bound.
    const fresh = buildBindingRequest({ username: "UFRAGserver:cli", password: PWD });
    expect(d.route(encap("198.51.100.7", 40001, fresh), "10.0.0.2", 3478)?.addr).toEqual([
      "198.51.100.7",
      40001,
    ]);
  });

  it("keeps the last checks only (bounded)", () => {
    const r = new CheckReplay(2);
    expect(r.replayed("a", 1)).toBe(false);
    expect(r.replayed("b", 1)).toBe(false);
    expect(r.replayed("a", 2)).toBe(true);
    expect(r.replayed("c", 1)).toBe(false); // "a" is forgotten
    expect(r.replayed("a", 2)).toBe(false);
  });

  it("binds a client address to a session on a valid check, then routes its other packets by address", () => {
    const { d, s } = setup();
    const check = buildBindingRequest({ username: "UFRAGserver:cli", password: PWD, useCandidate: true });
    const f = d.route(encap("198.51.100.7", 40000, check), "10.0.0.2", 3478);
    expect(f?.session).toBe(s);
    expect(f?.addr).toEqual(["198.51.100.7", 40000]);
    expect(d.info.isStun).toBe(true);
    expect(d.info.nominate).toBe(true);
    const g = d.route(encap("198.51.100.7", 40000, rtp), "10.0.0.2", 3478);
    expect(g).toBe(f);
    expect(d.info.isStun).toBe(false);
    expect(d.info.headerLength).toBe(ENCAP_V4_LEN);
  });

  it("drops checks with a wrong MESSAGE-INTEGRITY, an unknown ufrag or no USERNAME, and binds nothing", () => {
    const { d } = setup();
    const wrongPwd = buildBindingRequest({ username: "UFRAGserver:cli", password: "x".repeat(24) });
    expect(d.route(encap("1.2.3.4", 5, wrongPwd), "10.0.0.2", 1)).toBeUndefined();
    expect(d.lastDrop).toBe("bad-integrity");
    const noMi = buildBindingRequest({ username: "UFRAGserver:cli" });
    expect(d.route(encap("1.2.3.4", 5, noMi), "10.0.0.2", 1)).toBeUndefined();
    expect(d.lastDrop).toBe("bad-integrity");
    const unknown = buildBindingRequest({ username: "OTHER:cli", password: PWD });
    expect(d.route(encap("1.2.3.4", 5, unknown), "10.0.0.2", 1)).toBeUndefined();
    expect(d.lastDrop).toBe("unknown-ufrag");
    const noColon = buildBindingRequest({ username: "UFRAGserver", password: PWD });
    expect(d.route(encap("1.2.3.4", 5, noColon), "10.0.0.2", 1)).toBeUndefined();
    expect(d.lastDrop).toBe("stun-no-username");
    expect(d.route(encap("1.2.3.4", 5, rtp), "10.0.0.2", 1)).toBeUndefined();
    expect(d.lastDrop).toBe("unknown-client");
    expect(d.byClient.size).toBe(0);
    expect(d.stats.drops).toMatchObject({
      "bad-integrity": 2,
      "unknown-ufrag": 1,
      "stun-no-username": 1,
      "unknown-client": 1,
    });
  });

  it("drops datagrams that are not encapsulated, and never throws on garbage", () => {
    const { d } = setup();
    expect(d.route(rtp, "10.0.0.2", 1)).toBeUndefined();
    expect(d.lastDrop).toBe("not-encapsulated");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        expect(d.route(Buffer.from(b), "10.0.0.2", 1)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        expect(d.route(encap("1.2.3.4", 9, Buffer.from(b)), "10.0.0.2", 1)).toBeUndefined();
      }),
    );
  });

  it("keeps an old ufrag routable after an ICE restart, and follows the relay a client's packets come through", () => {
    const d = new Demux<FakeSession>(encapKeys);
    const s = new FakeSession({ OLDufrag: PWD, NEWufrag: "n".repeat(24) });
    d.addUfrag("OLDufrag", s);
    d.addUfrag("NEWufrag", s);
    const old = buildBindingRequest({ username: "OLDufrag:c", password: PWD });
    expect(d.route(encap("::1", 7, old), "10.0.0.2", 1)?.session).toBe(s);
    const neu = buildBindingRequest({ username: "NEWufrag:c", password: "n".repeat(24) });
    const f = d.route(encap("::1", 7, neu), "10.0.0.3", 2);
    expect(f?.session).toBe(s);
    expect([f?.relayAddress, f?.relayPort]).toEqual(["10.0.0.3", 2]);
    expect(d.info.headerLength).toBe(ENCAP_V6_LEN);
    expect(f?.addr).toEqual(["::1", 7]);
  });

  it("takes nothing from a sender without the encapsulation key: no route, no new relay path, no new client", () => {
    const { d, s } = setup();
    const check = buildBindingRequest({ username: "UFRAGserver:cli", password: PWD });
    const f = d.route(encap("198.51.100.7", 40000, check), "10.0.0.2", 3478)!;
    const forged = (payload: Buffer, port = 40000) =>
      Buffer.concat([strangerEncapKeys.header("198.51.100.7", port), payload]);
    // Naming the live client, from the attacker's address: dropped, and replies still go to the relay.
    expect(d.route(forged(rtp), "10.0.0.66", 5000)).toBeUndefined();
    expect(d.lastDrop).toBe("bad-encap-token");
    expect(d.route(forged(check), "10.0.0.66", 5000)).toBeUndefined();
    expect(d.lastDrop).toBe("bad-encap-token");
    const otherId = Buffer.concat([
      parseEncapKeys(`9:${"11".repeat(16)}`).header("198.51.100.7", 40000),
      rtp,
    ]);
    expect(d.route(otherId, "10.0.0.66", 5000)).toBeUndefined();
    expect(d.lastDrop).toBe("unknown-encap-key");
    expect([f.relayAddress, f.relayPort]).toEqual(["10.0.0.2", 3478]);
    // A new client, even with a valid check (MESSAGE-INTEGRITY), is not bound without the token.
    expect(d.route(forged(check, 40001), "10.0.0.66", 5000)).toBeUndefined();
    expect(d.lastDrop).toBe("bad-encap-token");
    expect(d.byClient.size).toBe(1);
    expect(d.stats.drops).toMatchObject({ "bad-encap-token": 3, "unknown-encap-key": 1 });
    expect(d.route(encap("198.51.100.7", 40000, rtp), "10.0.0.2", 3478)?.session).toBe(s);
  });

  it("answers with its own current key and accepts the relays' previous one (rotation)", () => {
    const step2 = parseEncapKeys(`2:${"22".repeat(16)},1:202122232425262728292a2b2c2d2e2f`);
    const d = new Demux<FakeSession>(step2);
    d.addUfrag("UFRAGserver", new FakeSession({ UFRAGserver: PWD }));
    const check = buildBindingRequest({ username: "UFRAGserver:cli", password: PWD });
    const f = d.route(encap("198.51.100.7", 40000, check), "10.0.0.2", 3478)!; // key 1: a relay a step behind
    expect(encapKeyId(f.header)).toBe(2);
    const onTwo = Buffer.concat([step2.header("198.51.100.7", 40000), rtp]);
    expect(d.route(onTwo, "10.0.0.2", 3478)).toBe(f);
  });

  it("forgets every ufrag and client of a removed session", () => {
    const { d, s } = setup();
    d.route(
      encap("1.2.3.4", 5, buildBindingRequest({ username: "UFRAGserver:c", password: PWD })),
      "10.0.0.2",
      1,
    );
    expect(d.byClient.size).toBe(1);
    d.removeSession(s);
    expect(d.byClient.size).toBe(0);
    expect(d.byUfrag.size).toBe(0);
    expect(d.route(encap("1.2.3.4", 5, rtp), "10.0.0.2", 1)).toBeUndefined();
  });
});
