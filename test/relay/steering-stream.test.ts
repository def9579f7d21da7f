/**
 * ICE-TCP frames through the one Steering: the same rules as datagrams, plus
 * what a TCP connection's flow is (its own frames only, verified at once, no
 * shared record, closed with its connection).
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { Flow, StreamSink } from "../../media/relay/flow.ts";
import { FlowTable } from "../../media/relay/flow-table.ts";
import type { Steering } from "../../media/relay/steering.ts";
import { clientKeyV4 } from "../../media/wire/encap.ts";
import { FLOW_END } from "../../media/wire/flow-end.ts";
import { binding, clientHello, encapKeys, hint, rtp, testSteering } from "../support/relay-fixtures.ts";

const T = "127.0.0.1";
const C = "203.0.113.5";

class FakeConnection implements StreamSink {
  delivered: Buffer[] = [];
  gone: string[] = [];
  deliver(buf: Uint8Array, off: number, len: number): void {
    this.delivered.push(Buffer.from(buf.subarray(off, off + len)));
  }
  flowGone(reason: "idle" | "ended"): void {
    this.gone.push(reason);
  }
}

function frame(s: Steering, buf: Buffer, conn: StreamSink, port = 5000, now = 1) {
  return s.fromStream(buf, 0, buf.length, clientKeyV4(C, port), C, port, conn, now);
}

describe("steering: frames of an ICE-TCP connection", () => {
  let s: Steering;
  let marked: Flow[];
  beforeEach(() => {
    s = testSteering({ table: new FlowTable(10), recoverable: true });
    marked = [];
    s.changes = { mark: (f) => marked.push(f), forget: (f) => marked.push(f) };
  });

  it("a first frame that is a Binding request with a valid hint opens a verified flow of that connection", () => {
    const conn = new FakeConnection();
    expect(frame(s, binding(hint(9000)), conn)).toBe("open");
    expect(s.hop).toEqual({ address: T, port: 9000 });
    expect(s.flow!.stream).toBe(conn);
    expect(s.flow!.budget.verified).toBe(true); // the TCP handshake proved the address
    expect(s.stats.flowsOpened).toBe(1);
    expect(marked).toEqual([]); // no shared record: it cannot outlive its connection
    expect(frame(s, rtp(), conn)).toBe("forward");
    expect(frame(s, clientHello({ cookie: new Uint8Array([1]) }), conn)).toBe("forward");
    expect(marked).toEqual([]);
  });

  it("a first frame that is not STUN is dropped, never looked up (even with shared records)", () => {
    const conn = new FakeConnection();
    expect(frame(s, rtp(), conn)).toBe("not-stun");
    expect(frame(s, binding("abcd"), conn)).toBe("bad-hint");
    expect(s.table.size).toBe(0);
    expect(s.stats.drops["not-stun"]).toBe(1);
    expect(s.stats.drops["bad-hint"]).toBe(1);
  });

  it("a flow of one transport takes nothing of the other from the same address", () => {
    const conn = new FakeConnection();
    // UDP flow first: a TCP connection from that address:port cannot use it.
    expect(s.fromClient(binding(hint(9000)), C, 5000, 1)).toBe("open");
    expect(frame(s, binding(hint(9000)), conn)).toBe("wrong-transport");
    expect(frame(s, rtp(), conn)).toBe("wrong-transport");
    // A TCP flow: UDP datagrams from its address:port are not its, nor another connection's frames.
    const tcp = new FakeConnection();
    expect(frame(s, binding(hint(9000)), tcp, 6000)).toBe("open");
    expect(s.fromClient(rtp(), C, 6000, 2)).toBe("wrong-transport");
    expect(frame(s, rtp(), new FakeConnection(), 6000)).toBe("wrong-transport");
    expect(s.stats.drops["wrong-transport"]).toBe(4);
    expect(s.stats.forwardedPackets).toBe(2);
  });

  it("replies are delivered for the shell to frame onto the connection; the flow-end marker closes it", () => {
    const conn = new FakeConnection();
    frame(s, binding(hint(9000)), conn);
    const header = encapKeys.header(C, 5000);
    const reply = Buffer.concat([header, rtp(100)]);
    expect(s.fromNextHop(reply, T, 9000)).toBe("deliver");
    expect(s.flow!.stream).toBe(conn);
    expect(s.payloadOffset).toBe(header.length);
    expect(s.fromNextHop(Buffer.concat([header, FLOW_END]), T, 9000)).toBe("ended");
    expect(conn.gone).toEqual(["ended"]);
    expect(s.table.size).toBe(0);
    expect(marked).toEqual([]); // no record to forget either
  });

  it("an idle flow expires and closes its connection; a closed connection takes its flow along", () => {
    const idle = new FakeConnection();
    const closing = new FakeConnection();
    frame(s, binding(hint(9000)), idle, 5000, 0);
    frame(s, binding(hint(9000)), closing, 5001, 900);
    const mine = s.flow!;
    expect(s.sweep(1000, 500)).toBe(1);
    expect(idle.gone).toEqual(["idle"]);
    expect(closing.gone).toEqual([]);
    s.streamClosed(mine);
    expect(s.table.size).toBe(0);
    expect(s.stats.flowsClosed).toBe(1);
    // Only its own flow: a later flow of the same address is not taken along.
    frame(s, binding(hint(9000)), new FakeConnection(), 5001, 1000);
    s.streamClosed(mine);
    expect(s.table.size).toBe(1);
  });

  it("a Binding request with another valid hint re-points a TCP flow, as it does a UDP one", () => {
    const conn = new FakeConnection();
    frame(s, binding(hint(9000)), conn);
    expect(frame(s, binding(hint(9001)), conn)).toBe("repoint");
    expect(s.hop).toEqual({ address: T, port: 9001 });
    expect(marked).toEqual([]);
  });
});
