import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Demux, type DemuxSession } from "../../media/transceiver/demux.ts";
import { encodeEncapHeader } from "../../media/wire/encap.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";

class FakeSession implements DemuxSession {
  readonly creds: Record<string, string>;
  constructor(creds: Record<string, string>) {
    this.creds = creds;
  }
  passwordFor(ufrag: string) {
    return this.creds[ufrag];
  }
}

const PWD = "abcdefghijklmnopqrstuvwx";
const encap = (addr: string, port: number, payload: Buffer) =>
  Buffer.concat([encodeEncapHeader(addr, port), payload]);
const rtp = Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9]);

function setup() {
  const d = new Demux<FakeSession>();
  const s = new FakeSession({ UFRAGserver: PWD });
  d.addUfrag("UFRAGserver", s);
  return { d, s };
}

describe("transceiver demux", () => {
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
    expect(d.info.headerLength).toBe(8);
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
    const d = new Demux<FakeSession>();
    const s = new FakeSession({ OLDufrag: PWD, NEWufrag: "n".repeat(24) });
    d.addUfrag("OLDufrag", s);
    d.addUfrag("NEWufrag", s);
    const old = buildBindingRequest({ username: "OLDufrag:c", password: PWD });
    expect(d.route(encap("::1", 7, old), "10.0.0.2", 1)?.session).toBe(s);
    const neu = buildBindingRequest({ username: "NEWufrag:c", password: "n".repeat(24) });
    const f = d.route(encap("::1", 7, neu), "10.0.0.3", 2);
    expect(f?.session).toBe(s);
    expect([f?.relayAddress, f?.relayPort]).toEqual(["10.0.0.3", 2]);
    expect(d.info.headerLength).toBe(20);
    expect(f?.addr).toEqual(["::1", 7]);
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
