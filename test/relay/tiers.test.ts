/**
 * The two relay tiers, sans-IO: a Global Relay ingress routes by the hint's
 * cluster to that cluster's relay; a cluster relay behind ingresses takes
 * encapsulated datagrams from configured ingresses only, passes them on
 * unchanged and sends replies back to the ingress. Plus recovery verdicts,
 * adopting a flow from its shared record, and draining.
 */

import { describe, expect, it } from "vitest";
import { AddressSet, parseClusterMap } from "../../media/relay/config.ts";
import { ingressRoute } from "../../media/relay/next-hop.ts";
import type { RecoveredFlow } from "../../media/relay/steering.ts";
import { ENCAP_V4_LEN, encapKeyId } from "../../media/wire/encap.ts";
import { parseEncapKeys } from "../../media/wire/encap-auth.ts";
import { FLOW_END } from "../../media/wire/flow-end.ts";
import {
  binding,
  CLUSTER,
  clientHello,
  encapped,
  hint,
  rtp,
  strangerEncapKeys,
  testSteering,
  verifiedHello,
} from "../support/relay-fixtures.ts";

const C = "203.0.113.5";
const RELAY_7 = { address: "10.0.0.7", port: 3479 };
const RELAY_8 = { address: "10.0.0.8", port: 3479 };
const INGRESS = { address: "10.9.0.1", port: 41000 };

function ingressSteering(o: { recoverable?: boolean } = {}) {
  return testSteering({
    route: ingressRoute(
      new Map([
        [CLUSTER, RELAY_7],
        [CLUSTER + 1, RELAY_8],
      ]),
    ),
    recoverable: o.recoverable,
  });
}

function clusterSteering(o: { recoverable?: boolean; ingresses?: string } = {}) {
  return testSteering({
    ingresses: AddressSet.parse(o.ingresses ?? "10.9.0.0/16"),
    recoverable: o.recoverable,
  });
}

/** What an ingress sends a cluster relay for client C:port: header + the client's datagram. */
function encap(payload: Buffer, port = 5000, address = C): Buffer {
  return encapped(address, port, payload);
}

describe("Global Relay ingress", () => {
  it("routes a new flow by the hint's cluster to that cluster's relay, whatever transceiver it names", () => {
    const s = ingressSteering();
    expect(s.fromClient(binding(hint(40000, { cluster: CLUSTER + 1 })), C, 5000, 1)).toBe("open");
    expect(s.hop).toEqual(RELAY_8);
    expect(s.flow!.target).toEqual({ address: "127.0.0.1", port: 40000 });
    expect(s.flow!.cluster).toBe(CLUSTER + 1);
    expect(s.fromClient(rtp(), C, 5000, 2)).toBe("forward");
    expect(s.hop).toEqual(RELAY_8);
  });

  it("drops a hint for a cluster it has no relay for", () => {
    const s = ingressSteering();
    expect(s.fromClient(binding(hint(40000, { cluster: 99 })), C, 5000, 1)).toBe("wrong-cluster");
    expect(s.table.size).toBe(0);
  });

  it("accepts replies only from the flow's cluster relay, and enforces the client's byte budget", () => {
    const s = ingressSteering();
    const req = binding(hint(40000));
    s.fromClient(req, C, 5000, 1);
    const small = encap(Buffer.alloc(req.length - 4, 1));
    expect(s.fromNextHop(small, RELAY_8.address, RELAY_8.port)).toBe("wrong-source");
    expect(s.fromNextHop(small, RELAY_7.address, RELAY_7.port)).toBe("deliver");
    expect(s.payloadOffset).toBe(ENCAP_V4_LEN);
    expect(s.fromNextHop(encap(Buffer.alloc(100, 1)), RELAY_7.address, RELAY_7.port)).toBe("amplification");
    expect(s.fromClient(clientHello({ cookie: Buffer.alloc(16, 3) }), C, 5000, 2)).toBe("bad-cookie");
    expect(s.fromNextHop(encap(Buffer.alloc(1000, 1)), RELAY_7.address, RELAY_7.port)).toBe("amplification");
    s.fromClient(verifiedHello(C, 5000, 2), C, 5000, 2);
    expect(s.fromNextHop(encap(Buffer.alloc(1000, 1)), RELAY_7.address, RELAY_7.port)).toBe("deliver");
  });
});

describe("cluster relay behind ingresses", () => {
  it("opens a flow from an ingress's encapsulated Binding request: the client from the header, replies to the ingress", () => {
    const s = clusterSteering();
    const req = encap(binding(hint(40000)));
    expect(s.fromIngress(req, INGRESS.address, INGRESS.port, 1)).toBe("open");
    expect(s.hop).toEqual({ address: "127.0.0.1", port: 40000 });
    const flow = s.flow!;
    expect([flow.address, flow.port]).toEqual([C, 5000]);
    expect(flow.ingress).toEqual(INGRESS);
    expect(flow.budget.verified).toBe(true); // the ingress enforces the budget
    expect(s.stats.forwardedBytes).toBe(req.length); // passed on as it came, header included
    const big = encap(Buffer.alloc(1200, 9));
    expect(s.fromNextHop(big, "127.0.0.1", 40000)).toBe("deliver");
    expect(s.stats.deliveredBytes).toBe(big.length);
    expect(s.fromIngress(encap(rtp()), INGRESS.address, INGRESS.port, 2)).toBe("forward");
  });

  it("takes nothing from senders that are not configured ingresses, not even for a live flow", () => {
    const s = clusterSteering();
    expect(s.fromIngress(encap(binding(hint(40000))), "198.51.100.1", 4000, 1)).toBe("unknown-ingress");
    expect(s.table.size).toBe(0);
    s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1);
    expect(s.fromIngress(encap(rtp()), "198.51.100.1", 4000, 2)).toBe("unknown-ingress");
    expect(s.flow).toBeUndefined();
    expect(s.stats.drops["unknown-ingress"]).toBe(2);
  });

  it("follows a flow to another configured ingress (replies go where the client's datagrams come from)", () => {
    const s = clusterSteering();
    s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1);
    expect(s.fromIngress(encap(rtp()), "10.9.3.3", 5555, 2)).toBe("forward");
    expect(s.flow!.ingress).toEqual({ address: "10.9.3.3", port: 5555 });
    expect(s.stats.ingressMoves).toBe(1);
  });

  it("drops raw client datagrams and malformed headers", () => {
    const s = clusterSteering();
    expect(s.fromIngress(binding(hint(40000)), INGRESS.address, INGRESS.port, 1)).toBe("malformed");
    expect(s.fromIngress(Buffer.from([0xf4, 1, 0, 0, 0, 0, 0, 0, 9]), INGRESS.address, INGRESS.port, 1)).toBe(
      "malformed",
    );
  });

  it("re-points on a new hint inside the encapsulated datagram", () => {
    const s = clusterSteering();
    s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1);
    expect(s.fromIngress(encap(binding(hint(40001))), INGRESS.address, INGRESS.port, 2)).toBe("repoint");
    expect(s.hop).toEqual({ address: "127.0.0.1", port: 40001 });
  });
});

describe("recovery verdicts, adopting, draining", () => {
  const record: RecoveredFlow = {
    cluster: CLUSTER,
    target: { address: "127.0.0.1", port: 40000 },
    ufrag: hint(40000),
    verified: false,
  };

  it('asks for a lookup ("recover") for a non-STUN datagram of an unknown client when records exist', () => {
    const s = ingressSteering({ recoverable: true });
    expect(s.fromClient(rtp(), C, 5000, 1)).toBe("recover");
    expect(s.recoverKey).toBeGreaterThan(0);
    expect(s.stats.drops["not-stun"]).toBe(0);
    expect(ingressSteering().fromClient(rtp(), C, 5000, 1)).toBe("not-stun");
    // A Binding request still opens at once.
    expect(s.fromClient(binding(hint(40000)), C, 5001, 1)).toBe("open");
  });

  it("rebuilds an ingress flow from a record, routing by its cluster with today's configuration", () => {
    const s = ingressSteering({ recoverable: true });
    const flow = s.adopt({ ...record, cluster: CLUSTER + 1 }, C, 5000, undefined, 10);
    expect(typeof flow).toBe("object");
    expect(s.stats.flowsRecovered).toBe(1);
    expect(s.replayClient(rtp(), C, 5000, 11)).toBe("forward");
    expect(s.hop).toEqual(RELAY_8);
    expect(s.stats.clientPackets).toBe(0); // replays were counted when they arrived
    // The ufrag came back too: a consent check with it is no re-point.
    expect(s.fromClient(binding(record.ufrag), C, 5000, 12)).toBe("forward");
    expect(s.stats.flowsRepointed).toBe(0);
    // Unverified in the record: the budget holds.
    expect(s.fromNextHop(encap(Buffer.alloc(500)), RELAY_8.address, RELAY_8.port)).toBe("amplification");
    expect(s.adopt({ ...record, cluster: 99 }, C, 6000, undefined, 10)).toBe("wrong-cluster");
  });

  it("keeps the record's verification", () => {
    const s = ingressSteering({ recoverable: true });
    s.adopt({ ...record, verified: true }, C, 5000, undefined, 10);
    expect(s.fromNextHop(encap(Buffer.alloc(500)), RELAY_7.address, RELAY_7.port)).toBe("deliver");
  });

  it("rebuilds a cluster relay flow with the ingress that sent, and leaves a STUN-opened flow alone", () => {
    const s = clusterSteering({ recoverable: true });
    expect(s.fromIngress(encap(rtp()), INGRESS.address, INGRESS.port, 1)).toBe("recover");
    const flow = s.adopt(record, C, 5000, INGRESS, 2);
    expect(typeof flow === "object" && flow.ingress).toEqual(INGRESS);
    expect(s.replayIngress(encap(rtp()), INGRESS.address, INGRESS.port, 3)).toBe("forward");
    expect(s.hop).toEqual(record.target);
    expect(s.adopt(record, C, 5000, INGRESS, 4)).toBe(flow);
    expect(s.stats.flowsRecovered).toBe(1);
    expect(s.adopt({ ...record, cluster: CLUSTER + 1 }, C, 6000, INGRESS, 4)).toBe("wrong-cluster");
  });

  it("while draining: known flows go on, no new ones from STUN or from records", () => {
    const s = ingressSteering({ recoverable: true });
    s.fromClient(binding(hint(40000)), C, 5000, 1);
    s.draining = true;
    expect(s.fromClient(rtp(), C, 5000, 2)).toBe("forward");
    expect(s.fromClient(binding(hint(40000)), C, 5001, 2)).toBe("draining");
    expect(s.fromClient(rtp(), C, 5002, 2)).toBe("draining");
    expect(s.adopt(record, C, 5003, undefined, 2)).toBe("draining");
    expect(s.stats.drops.draining).toBe(2);
  });

  it("tells the recorder about opened, re-pointed and verified flows, nothing else", () => {
    const s = ingressSteering();
    const marked: string[] = [];
    s.changes = { mark: (f) => marked.push(`${f.port}`), forget: (f) => marked.push(`forgot ${f.port}`) };
    s.fromClient(binding(hint(40000)), C, 5000, 1);
    s.fromClient(rtp(), C, 5000, 2);
    s.fromClient(binding(hint(40001)), C, 5000, 3);
    s.fromClient(clientHello({ cookie: Buffer.alloc(8, 1) }), C, 5000, 4); // not this address's: dropped
    s.fromClient(verifiedHello(C, 5000, 4), C, 5000, 4);
    s.fromClient(verifiedHello(C, 5000, 4), C, 5000, 5);
    expect(marked).toEqual(["5000", "5000", "5000"]);
  });
});

describe("configuration", () => {
  it("parses the cluster map and names what is wrong", () => {
    expect(parseClusterMap("1=10.0.0.5:3479, 2=[fd00::5]:3479")).toEqual(
      new Map([
        [1, { address: "10.0.0.5", port: 3479 }],
        [2, { address: "fd00::5", port: 3479 }],
      ]),
    );
    expect(() => parseClusterMap("")).toThrow("no clusters");
    expect(() => parseClusterMap("1=10.0.0.5")).toThrow('"1=10.0.0.5": 10.0.0.5 is not host:port');
    expect(() => parseClusterMap("x=10.0.0.5:1")).toThrow("is not id=host:port");
    expect(() => parseClusterMap("70000=10.0.0.5:1")).toThrow("cluster id 70000 is not 0..65535");
    expect(() => parseClusterMap("1=10.0.0.5:1,1=10.0.0.6:1")).toThrow("cluster 1 is listed twice");
    expect(() => parseClusterMap("1=localhost:1")).toThrow("IP literal");
  });

  it("matches senders by address, address:port and CIDR prefix, IPv4-mapped included", () => {
    const set = AddressSet.parse("10.1.0.0/16, 192.0.2.7, 192.0.2.8:4000, fd00::/8");
    expect(set.allows("10.1.200.3", 1)).toBe(true);
    expect(set.allows("10.2.0.1", 1)).toBe(false);
    expect(set.allows("::ffff:10.1.0.9", 1)).toBe(true);
    expect(set.allows("192.0.2.7", 65000)).toBe(true);
    expect(set.allows("192.0.2.8", 4000)).toBe(true);
    expect(set.allows("192.0.2.8", 4001)).toBe(false);
    expect(set.allows("fd12::1", 1)).toBe(true);
    expect(set.allows("fe80::1", 1)).toBe(false);
    expect(AddressSet.parse("10.0.0.0/9").allows("10.127.255.255", 1)).toBe(true);
    expect(AddressSet.parse("10.0.0.0/9").allows("10.128.0.0", 1)).toBe(false);
    expect(set.toString()).toBe("10.1.0.0/16,192.0.2.7,192.0.2.8:4000,fd00::/8");
    expect(() => AddressSet.parse("10.0.0.0/33")).toThrow('"10.0.0.0/33" is not an IP literal');
    expect(() => AddressSet.parse("ingress.local")).toThrow("is not an IP literal");
    expect(() => AddressSet.parse(" , ")).toThrow("no addresses");
  });
});

describe("authenticated encapsulation (a sender on an allowed address, without the key)", () => {
  /** What such a sender can make: the right client address, a token under keys it guessed. */
  const forged = (payload: Buffer, port = 5000) =>
    Buffer.concat([strangerEncapKeys.header(C, port), payload]);
  const otherKeyId = (payload: Buffer, port = 5000) =>
    Buffer.concat([parseEncapKeys(`9:${"11".repeat(16)}`).header(C, port), payload]);

  it("cluster relay: cannot move a live flow to itself, use it, or open or recover one", () => {
    const s = clusterSteering({ recoverable: true });
    expect(s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1)).toBe("open");
    const flow = s.flow!;
    const attacker = { address: "10.9.0.66", port: 41000 }; // inside the configured 10.9.0.0/16
    expect(s.fromIngress(forged(rtp()), attacker.address, attacker.port, 2)).toBe("bad-encap-token");
    expect(s.fromIngress(otherKeyId(rtp()), attacker.address, attacker.port, 2)).toBe("unknown-encap-key");
    // Its own Binding request with an authentic hint (anyone gets one through signaling) is no better.
    expect(s.fromIngress(forged(binding(hint(40001))), attacker.address, attacker.port, 2)).toBe(
      "bad-encap-token",
    );
    expect(flow.ingress).toEqual(INGRESS);
    expect(flow.hop).toEqual({ address: "127.0.0.1", port: 40000 });
    expect(s.stats.ingressMoves).toBe(0);
    // For clients without a flow: no flow is opened, none is looked up.
    expect(s.fromIngress(forged(binding(hint(40000)), 6000), attacker.address, attacker.port, 3)).toBe(
      "bad-encap-token",
    );
    expect(s.fromIngress(forged(rtp(), 6001), attacker.address, attacker.port, 3)).toBe("bad-encap-token");
    expect(s.table.size).toBe(1);
    expect(s.stats.drops).toMatchObject({ "bad-encap-token": 4, "unknown-encap-key": 1 });
    // The real ingress goes on.
    expect(s.fromIngress(encap(rtp()), INGRESS.address, INGRESS.port, 4)).toBe("forward");
  });

  it("cluster relay: nothing forged from the flow's own ingress address gets through either", () => {
    const s = clusterSteering();
    s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1);
    expect(s.fromIngress(forged(rtp()), INGRESS.address, INGRESS.port, 2)).toBe("bad-encap-token");
  });

  it("replies (and the flow-end marker) need the client's token, even from the flow's next hop", () => {
    const s = ingressSteering();
    s.fromClient(binding(hint(40000)), C, 5000, 1);
    s.fromClient(clientHello({ cookie: new Uint8Array([1]) }), C, 5000, 2);
    expect(s.fromNextHop(forged(rtp()), RELAY_7.address, RELAY_7.port)).toBe("bad-encap-token");
    expect(s.fromNextHop(otherKeyId(rtp()), RELAY_7.address, RELAY_7.port)).toBe("unknown-encap-key");
    expect(s.fromNextHop(forged(FLOW_END), RELAY_7.address, RELAY_7.port)).toBe("bad-encap-token");
    expect(s.table.size).toBe(1);
    expect(s.stats.deliveredPackets).toBe(0);
    expect(s.fromNextHop(encap(rtp()), RELAY_7.address, RELAY_7.port)).toBe("deliver");
  });

  it("accepts both keys of the ring (rotation), and sends with the current one", () => {
    const step2 = parseEncapKeys(`2:${"22".repeat(16)},1:202122232425262728292a2b2c2d2e2f`);
    const s = testSteering({ encapKeys: step2, ingresses: AddressSet.parse("10.9.0.0/16") });
    // An ingress a step behind (still sending with key 1) opens and uses a flow.
    expect(s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1)).toBe("open");
    expect(s.fromIngress(encap(rtp()), INGRESS.address, INGRESS.port, 2)).toBe("forward");
    // One already on key 2, too; and what this relay itself would send is under key 2.
    const two = Buffer.concat([step2.header(C, 5000), rtp()]);
    expect(s.fromIngress(two, INGRESS.address, INGRESS.port, 3)).toBe("forward");
    expect(encapKeyId(s.flow!.header)).toBe(2);
  });
});
