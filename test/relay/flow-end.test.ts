/**
 * The flow-end marker (media/wire/flow-end.ts): a transceiver ends a flow on
 * the relays at once; nobody else can, and no client datagram looks like it.
 */
import { describe, expect, it } from "vitest";
import { AddressSet } from "../../media/relay/config.ts";
import { FLOW_END, isFlowEnd } from "../../media/wire/flow-end.ts";
import { binding, clientHello, encapped, hint, rtp, testSteering } from "../support/relay-fixtures.ts";

const T = "127.0.0.1";
const C = "203.0.113.5";
const INGRESS = { address: "10.9.0.1", port: 3478 };
const reply = (payload: Buffer, port = 5000) => encapped(C, port, payload);

function cluster(ingresses?: string) {
  const s = testSteering({ ingresses: ingresses ? AddressSet.parse(ingresses) : undefined });
  const forgotten: number[] = [];
  s.changes = { mark: () => {}, forget: (f) => forgotten.push(f.port) };
  return { s, forgotten };
}

describe("flow-end marker", () => {
  it("is none of the protocols a flow carries", () => {
    expect(isFlowEnd(FLOW_END, 0, FLOW_END.length)).toBe(true);
    for (const d of [
      rtp(),
      clientHello(),
      binding(hint(9000)),
      Buffer.alloc(8, 0xff),
      FLOW_END.subarray(0, 7),
    ])
      expect(isFlowEnd(d, 0, d.length)).toBe(false);
    const longer = Buffer.concat([FLOW_END, Buffer.from([0])]);
    expect(isFlowEnd(longer, 0, longer.length)).toBe(false);
  });

  it("from the flow's transceiver: the flow and its shared record go, nothing reaches the client", () => {
    const { s, forgotten } = cluster();
    s.fromClient(binding(hint(9000)), C, 5000, 0);
    expect(s.table.size).toBe(1);
    const delivered = s.stats.deliveredPackets;
    expect(s.fromNextHop(reply(FLOW_END), T, 9000)).toBe("ended");
    expect(s.table.size).toBe(0);
    expect(forgotten).toEqual([5000]);
    expect(s.stats.flowsEnded).toBe(1);
    expect(s.stats.deliveredPackets).toBe(delivered);
    // The client's next datagrams find no flow.
    expect(s.fromClient(rtp(), C, 5000, 1)).toBe("not-stun");
    expect(s.fromNextHop(reply(rtp()), T, 9000)).toBe("unknown-flow");
  });

  it("from anyone else: dropped, the flow lives on", () => {
    const { s, forgotten } = cluster();
    s.fromClient(binding(hint(9000)), C, 5000, 0);
    expect(s.fromNextHop(reply(FLOW_END), T, 9001)).toBe("wrong-source");
    expect(s.fromNextHop(reply(FLOW_END, 5001), T, 9000)).toBe("unknown-flow");
    // A client cannot end its own flow on the relay either: from its side the marker is a datagram like any other.
    expect(s.fromClient(FLOW_END, C, 5000, 1)).toBe("forward");
    expect(s.table.size).toBe(1);
    expect(forgotten).toEqual([]);
    expect(s.stats.flowsEnded).toBe(0);
  });

  it("behind ingresses: the cluster relay ends its flow and passes the marker on to the ingress", () => {
    const { s, forgotten } = cluster(`${INGRESS.address}/32`);
    const encap = (p: Buffer) => encapped(C, 5000, p);
    expect(s.fromIngress(encap(binding(hint(40000))), INGRESS.address, INGRESS.port, 1)).toBe("open");
    expect(s.fromNextHop(encap(FLOW_END), T, 40000)).toBe("deliver");
    expect(s.flow!.ingress).toEqual(INGRESS);
    expect(s.table.size).toBe(0);
    expect(forgotten).toEqual([5000]);
  });
});
