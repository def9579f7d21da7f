import { beforeEach, describe, expect, it } from "vitest";
import { FlowTable } from "../../media/relay/flow-table.ts";
import type { Steering } from "../../media/relay/steering.ts";
import { ENCAP_V4_LEN, ENCAP_V6_LEN } from "../../media/wire/encap.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";
import { parseKeyring } from "../../shared/hint.ts";
import {
  binding,
  CLUSTER,
  clientHello,
  cookieFor,
  encapKeys,
  encapped,
  hint,
  otherKeys,
  rtp,
  testSteering,
  verifiedHello,
} from "../support/relay-fixtures.ts";

const T = "127.0.0.1";
const C = "203.0.113.5";

function steering(maxFlows = 100) {
  return testSteering({ table: new FlowTable(maxFlows) });
}

describe("steering: datagrams from clients without a flow", () => {
  let s: Steering;
  beforeEach(() => {
    s = steering();
  });

  it("opens a flow from a Binding request with a valid hint, routed to the hint's transceiver", () => {
    const req = binding(hint(9000));
    expect(s.fromClient(req, C, 5000, 1)).toBe("open");
    expect(s.hop).toEqual({ address: T, port: 9000 });
    expect(s.flow?.address).toBe(C);
    expect(s.flow?.port).toBe(5000);
    expect(s.flow?.cluster).toBe(CLUSTER);
    expect(s.table.size).toBe(1);
    expect(s.stats.flowsOpened).toBe(1);
    expect(s.stats.forwardedPackets).toBe(1);
    expect(s.stats.forwardedBytes).toBe(req.length + ENCAP_V4_LEN);
  });

  const cases: [string, () => Buffer, string][] = [
    ["an empty datagram", () => Buffer.alloc(0), "empty"],
    ["RTP", () => rtp(), "not-stun"],
    ["a DTLS ClientHello", () => clientHello(), "not-stun"],
    ["truncated STUN", () => binding(hint(9000)).subarray(0, 40), "not-stun"],
    ["STUN whose length field lies", () => lengthLies(binding(hint(9000))), "not-stun"],
    ["garbage", () => Buffer.from("GET / HTTP/1.1\r\n\r\n"), "not-stun"],
    ["a Binding success response", () => asType(binding(hint(9000)), 0x0101), "not-binding"],
    ["a Binding request without USERNAME", () => stripUsername(), "bad-username"],
    [
      "a USERNAME without a colon",
      () => buildBindingRequest({ username: hint(9000), password: "pw" }),
      "bad-username",
    ],
    ["an unknown (non-hint) ufrag", () => binding("abcd"), "bad-hint"],
    ["a forged hint (tag changed)", () => binding(forge(hint(9000))), "bad-hint"],
    ["a hint minted with another secret", () => binding(hint(9000, { ring: otherKeys })), "bad-hint"],
    [
      "a hint with an unknown key id",
      () => binding(hint(9000, { ring: parseKeyring("9:000102030405060708090a0b0c0d0e0f") })),
      "bad-hint",
    ],
    ["a hint for another cluster", () => binding(hint(9000, { cluster: CLUSTER + 1 })), "wrong-cluster"],
    [
      "a hint to an IPv6 transceiver on an IPv4 relay",
      () => binding(hint(9000, { address: "::1" })),
      "no-route",
    ],
  ];
  for (const [what, make, reason] of cases) {
    it(`drops ${what}: ${reason}`, () => {
      expect(s.fromClient(make(), C, 5000, 1)).toBe(reason);
      expect(s.flow).toBeUndefined();
      expect(s.hop).toBeUndefined();
      expect(s.table.size).toBe(0);
      expect(s.stats.drops[reason as keyof typeof s.stats.drops]).toBe(1);
      expect(s.stats.forwardedPackets).toBe(0);
    });
  }

  it("breaks bad-hint down by the decoder's reason", () => {
    s.fromClient(binding("abcd"), C, 1, 1);
    s.fromClient(binding(forge(hint(9000))), C, 2, 1);
    s.fromClient(binding(hint(9000, { ring: parseKeyring("9:000102030405060708090a0b0c0d0e0f") })), C, 3, 1);
    expect(s.stats.hintFailures).toMatchObject({ length: 1, "bad-tag": 1, "unknown-key": 1 });
    expect(s.stats.drops["bad-hint"]).toBe(3);
  });

  it("refuses new flows when the table is full, and keeps the ones it has", () => {
    s = steering(2);
    expect(s.fromClient(binding(hint(9000)), C, 1, 1)).toBe("open");
    expect(s.fromClient(binding(hint(9000)), C, 2, 1)).toBe("open");
    expect(s.fromClient(binding(hint(9000)), C, 3, 1)).toBe("table-full");
    expect(s.stats.drops["table-full"]).toBe(1);
    expect(s.fromClient(rtp(), C, 1, 2)).toBe("forward");
    s.sweep(100_000, 30_000);
    expect(s.fromClient(binding(hint(9000)), C, 3, 100_000)).toBe("open");
  });

  it("opens IPv6 flows with a 0xF6 header", () => {
    expect(s.fromClient(binding(hint(9000)), "2001:db8::9", 7000, 1)).toBe("open");
    expect(s.flow?.header[0]).toBe(0xf6);
    expect(s.fromClient(rtp(), "2001:db8::9", 7000, 2)).toBe("forward");
    expect(s.fromClient(rtp(), "2001:db8::9", 7001, 2)).toBe("not-stun");
  });
});

describe("steering: datagrams from clients with a flow", () => {
  let s: Steering;
  beforeEach(() => {
    s = steering();
    s.fromClient(binding(hint(9000)), C, 5000, 0);
  });

  it("forwards anything (RTP, DTLS, STUN of the same session, even non-STUN junk) to the flow's transceiver", () => {
    const same = s.flow!;
    for (const pkt of [rtp(), clientHello(), Buffer.from([0xf4, 0, 1, 2, 3, 4, 5, 6, 7]), Buffer.from([1])]) {
      expect(s.fromClient(pkt, C, 5000, 10)).toBe("forward");
      expect(s.hop).toEqual({ address: T, port: 9000 });
      expect(s.flow).toBe(same);
    }
    expect(same.lastSeen).toBe(10);
  });

  it("forwards consent checks with the flow's own ufrag without decoding it", () => {
    const ufrag = hint(9000);
    s = steering();
    s.fromClient(binding(ufrag), C, 5000, 0);
    expect(s.fromClient(binding(ufrag), C, 5000, 1)).toBe("forward");
    expect(s.stats.flowsRepointed).toBe(0);
  });

  it("re-points the flow on a Binding request with a new valid hint; the old session's checks still reach it", () => {
    const oldUfrag = hint(9000);
    s = steering();
    s.fromClient(binding(oldUfrag), C, 5000, 0);
    expect(s.fromClient(binding(hint(9001), { useCandidate: true }), C, 5000, 1)).toBe("repoint");
    expect(s.hop).toEqual({ address: T, port: 9001 });
    expect(s.stats.flowsRepointed).toBe(1);
    expect(s.fromClient(rtp(), C, 5000, 2)).toBe("forward");
    expect(s.hop?.port).toBe(9001);
    // Chromium keeps checking with the old ufrag for a while: no flapping.
    expect(s.fromClient(binding(oldUfrag), C, 5000, 3)).toBe("forward");
    expect(s.hop?.port).toBe(9000);
    expect(s.fromClient(rtp(), C, 5000, 4)).toBe("forward");
    expect(s.hop?.port).toBe(9001);
    expect(s.stats.flowsRepointed).toBe(1);
  });

  it("a forged or foreign hint from a known client is dropped and leaves the flow as it was", () => {
    for (const [pkt, reason] of [
      [binding(forge(hint(9001))), "bad-hint"],
      [binding(hint(9001, { cluster: CLUSTER + 1 })), "wrong-cluster"],
      [binding("abcd"), "bad-hint"],
    ] as const) {
      expect(s.fromClient(pkt, C, 5000, 1)).toBe(reason);
    }
    expect(s.fromClient(rtp(), C, 5000, 2)).toBe("forward");
    expect(s.hop?.port).toBe(9000);
    expect(s.stats.flowsRepointed).toBe(0);
  });

  it("verifies the flow on a ClientHello with the cookie minted for its address, not before", () => {
    const flow = s.flow!;
    expect(s.fromClient(clientHello(), C, 5000, 1)).toBe("forward");
    expect(flow.budget.verified).toBe(false);
    s.fromClient(verifiedHello(C, 5000, 2), C, 5000, 2);
    expect(flow.budget.verified).toBe(true);
    expect(s.stats.flowsVerified).toBe(1);
    s.fromClient(verifiedHello(C, 5000, 2), C, 5000, 2);
    expect(s.stats.flowsVerified).toBe(1);
  });

  it("drops a ClientHello whose cookie was not minted for the flow's address: bad-cookie (#16 item 1)", () => {
    const flow = s.flow!;
    for (const cookie of [
      new Uint8Array(32).fill(3), // made up
      cookieFor(C, 5001, 2), // another port (the attacker's own flow)
      cookieFor("198.51.100.1", 5000, 2), // another address
      cookieFor(C, 5000, 2, otherKeys), // another deployment's keys
      cookieFor(C, 5000, -120_000), // expired
    ])
      expect(s.fromClient(clientHello({ cookie }), C, 5000, 2)).toBe("bad-cookie");
    expect(flow.budget.verified).toBe(false);
    expect(s.stats.drops["bad-cookie"]).toBe(5);
    expect(s.stats.flowsVerified).toBe(0);
    // An IPv6 client's cookie is checked the same way.
    s.fromClient(binding(hint(9000)), "2001:db8::9", 7000, 3);
    const v6 = s.flow!;
    expect(s.fromClient(verifiedHello("2001:db8::8", 7000, 3), "2001:db8::9", 7000, 4)).toBe("bad-cookie");
    s.fromClient(verifiedHello("2001:db8::9", 7000, 3), "2001:db8::9", 7000, 4);
    expect(v6.budget.verified).toBe(true);
  });
});

describe("steering: datagrams from transceivers", () => {
  let s: Steering;
  let requestLength: number;
  beforeEach(() => {
    s = steering();
    const req = binding(hint(9000));
    requestLength = req.length;
    s.fromClient(req, C, 5000, 0);
  });

  it("delivers a reply for a known client from its transceiver, header stripped", () => {
    const r = encapped(C, 5000, Buffer.alloc(64, 1));
    expect(s.fromNextHop(r, T, 9000)).toBe("deliver");
    expect(s.payloadOffset).toBe(ENCAP_V4_LEN);
    expect(s.flow?.port).toBe(5000);
    expect(s.stats.deliveredBytes).toBe(64);
  });

  it("drops what is not encapsulated: malformed", () => {
    for (const pkt of [rtp(), binding(hint(9000)), Buffer.alloc(0), encapKeys.header(C, 5000)]) {
      expect(s.fromNextHop(pkt, T, 9000)).toBe("malformed");
    }
    const flagged = encapped(C, 5000, rtp());
    flagged[1] = 0x80;
    expect(s.fromNextHop(flagged, T, 9000)).toBe("malformed");
    expect(s.stats.drops.malformed).toBe(5);
  });

  it("drops replies for a client without a flow: unknown-flow (never a reflector)", () => {
    expect(s.fromNextHop(encapped(C, 5001, rtp()), T, 9000)).toBe("unknown-flow");
    expect(s.fromNextHop(encapped("198.51.100.1", 5000, rtp()), T, 9000)).toBe("unknown-flow");
    expect(s.fromNextHop(encapped("2001:db8::1", 5000, rtp()), T, 9000)).toBe("unknown-flow");
    expect(s.stats.drops["unknown-flow"]).toBe(3);
  });

  it("drops replies from any address but the flow's transceiver: wrong-source", () => {
    expect(s.fromNextHop(encapped(C, 5000, rtp(20)), T, 9001)).toBe("wrong-source");
    expect(s.fromNextHop(encapped(C, 5000, rtp(20)), "127.0.0.2", 9000)).toBe("wrong-source");
    expect(s.stats.drops["wrong-source"]).toBe(2);
    expect(s.fromNextHop(encapped(C, 5000, rtp(20)), T, 9000)).toBe("deliver");
  });

  it("accepts the previous transceiver after a re-point, and no other", () => {
    s.fromClient(binding(hint(9001)), C, 5000, 1);
    s.flow!.budget.verify();
    expect(s.fromNextHop(encapped(C, 5000, rtp()), T, 9001)).toBe("deliver");
    expect(s.fromNextHop(encapped(C, 5000, rtp()), T, 9000)).toBe("deliver");
    expect(s.fromNextHop(encapped(C, 5000, rtp()), T, 9002)).toBe("wrong-source");
  });

  it("limits an unverified flow to the bytes it sent: amplification", () => {
    expect(s.fromNextHop(encapped(C, 5000, Buffer.alloc(requestLength + 1, 1)), T, 9000)).toBe(
      "amplification",
    );
    expect(s.fromNextHop(encapped(C, 5000, Buffer.alloc(requestLength, 1)), T, 9000)).toBe("deliver");
    expect(s.fromNextHop(encapped(C, 5000, Buffer.alloc(1, 1)), T, 9000)).toBe("amplification");
    s.fromClient(rtp(100), C, 5000, 1);
    expect(s.fromNextHop(encapped(C, 5000, Buffer.alloc(100, 1)), T, 9000)).toBe("deliver");
    expect(s.stats.drops.amplification).toBe(2);
    s.fromClient(verifiedHello(C, 5000, 2), C, 5000, 2);
    expect(s.fromNextHop(encapped(C, 5000, Buffer.alloc(1200, 1)), T, 9000)).toBe("deliver");
  });

  it("delivers to IPv6 clients", () => {
    s.fromClient(binding(hint(9000)), "2001:db8::9", 7000, 1);
    s.flow!.budget.verify();
    expect(s.fromNextHop(encapped("2001:db8::9", 7000, rtp()), T, 9000)).toBe("deliver");
    expect(s.payloadOffset).toBe(ENCAP_V6_LEN);
    expect(s.flow?.address).toBe("2001:db8::9");
  });

  it("sweep expires idle flows and counts them; replies for them are then unknown-flow", () => {
    s.fromClient(rtp(), C, 5000, 10_000);
    expect(s.sweep(39_999, 30_000)).toBe(0);
    expect(s.sweep(40_000, 30_000)).toBe(1);
    expect(s.stats.flowsExpired).toBe(1);
    expect(s.fromNextHop(encapped(C, 5000, rtp(10)), T, 9000)).toBe("unknown-flow");
  });
});

function forge(ufrag: string): string {
  const last = ufrag.at(-2) === "A" ? "B" : "A";
  return ufrag.slice(0, -2) + last + ufrag.at(-1);
}

function lengthLies(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c.writeUInt16BE(c.readUInt16BE(2) + 4, 2);
  return c;
}

function asType(b: Buffer, type: number): Buffer {
  const c = Buffer.from(b);
  c.writeUInt16BE(type, 0);
  return c;
}

function stripUsername(): Buffer {
  // Header only: a well-framed Binding request with no attributes.
  const b = Buffer.alloc(20);
  b.writeUInt16BE(0x0001, 0);
  b.writeUInt32BE(0x2112a442, 4);
  return b;
}
