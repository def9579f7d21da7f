/** SidebandHub, sans-IO: who may attach, who gets which event, and the order of the end. */
import { describe, expect, it } from "vitest";
import {
  MAX_SIDEBANDS,
  SidebandHub,
  type SidebandSink,
} from "../../media/transceiver/bridge/sideband-hub.ts";
import { type SidebandSocket, SidebandSockets } from "../../media/transceiver/sideband-sockets.ts";

type Out = ["send", number, string] | ["close", number, number, string];

function recording(): { sink: SidebandSink; out: Out[] } {
  const out: Out[] = [];
  return {
    out,
    sink: {
      send: (id, text) => out.push(["send", id, text]),
      close: (id, code, reason) => out.push(["close", id, code, reason]),
    },
  };
}

describe("SidebandHub", () => {
  it("greets a sideband first, then fans every server event out in attach order", () => {
    const { sink, out } = recording();
    const hub = new SidebandHub(sink);
    expect(hub.attach(7, "hello-7")).toBe("attached");
    hub.fanOut("e1");
    expect(hub.attach(3, "hello-3")).toBe("attached");
    hub.fanOut("e2");
    expect(out).toEqual([
      ["send", 7, "hello-7"],
      ["send", 7, "e1"],
      ["send", 3, "hello-3"],
      ["send", 7, "e2"],
      ["send", 3, "e2"],
    ]);
  });

  it(`refuses one more than ${MAX_SIDEBANDS} without touching the attached ones; a freed slot can be taken`, () => {
    const { sink, out } = recording();
    const hub = new SidebandHub(sink);
    for (let i = 1; i <= MAX_SIDEBANDS; i++) expect(hub.attach(i, `g${i}`)).toBe("attached");
    expect(hub.attach(99, "g99")).toBe("full");
    expect(out.some((o) => o[1] === 99)).toBe(false);
    expect(out.some((o) => o[0] === "close")).toBe(false);
    expect(hub.detach(2)).toBe(true);
    expect(hub.attach(99, "g99")).toBe("attached");
    hub.fanOut("x");
    expect(out.filter((o) => o[2] === "x").map((o) => o[1])).toEqual([1, 3, 4, 99]);
  });

  it("a sideband that leaves gets nothing more; replies go to their sender only", () => {
    const { sink, out } = recording();
    const hub = new SidebandHub(sink);
    hub.attach(1, "g");
    hub.attach(2, "g");
    hub.detach(1);
    expect(hub.detach(1)).toBe(false);
    hub.fanOut("after");
    hub.reply(2, "err-for-2");
    hub.reply(1, "err-for-gone");
    expect(out.slice(2)).toEqual([
      ["send", 2, "after"],
      ["send", 2, "err-for-2"],
    ]);
  });

  it("the end closes every sideband after the final events, with 1000 (1001 on shutdown), and refuses new ones", () => {
    const { sink, out } = recording();
    const hub = new SidebandHub(sink);
    hub.attach(1, "g");
    hub.attach(2, "g");
    hub.fanOut("session.closed");
    hub.end("ended");
    hub.end("ended");
    hub.fanOut("late");
    expect(out.slice(2)).toEqual([
      ["send", 1, "session.closed"],
      ["send", 2, "session.closed"],
      ["close", 1, 1000, "call ended: ended"],
      ["close", 2, 1000, "call ended: ended"],
    ]);
    expect(hub.attach(3, "g")).toBe("ended");
    expect(hub.size).toBe(0);

    const b = recording();
    const down = new SidebandHub(b.sink);
    down.attach(5, "g");
    down.end("shutdown");
    expect(b.out.at(-1)).toEqual(["close", 5, 1001, "call ended: shutdown"]);
  });
});

class FakeSocket implements SidebandSocket {
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closed: [number, string] | undefined;
  send(text: string): void {
    this.sent.push(text);
  }
  close(code: number, reason: string): void {
    this.closed = [code, reason];
  }
}

describe("SidebandSockets (the host's table)", () => {
  it("holds events and a close that come before the upgrade completes, then sends them in order", () => {
    const t = new SidebandSockets();
    const id = t.reserve(0, "w0_s");
    t.send(id, "greeting");
    t.send(id, "e1");
    t.close(id, 1000, "call ended: ended");
    const ws = new FakeSocket();
    expect(t.open(id, ws)).toBe(true);
    expect(ws.sent).toEqual(["greeting", "e1"]);
    expect(ws.closed).toEqual([1000, "call ended: ended"]);
    expect(t.sessionOf(id)).toBeUndefined();
  });

  it("drops (and counts) events for a sideband that does not read, instead of buffering them", () => {
    const t = new SidebandSockets();
    const id = t.reserve(0, "w0_s");
    const ws = new FakeSocket();
    t.open(id, ws);
    t.send(id, "a");
    ws.bufferedAmount = 5 << 20;
    t.send(id, "b");
    ws.bufferedAmount = 0;
    t.send(id, "c");
    expect(ws.sent).toEqual(["a", "c"]);
    expect(t.stats.eventsDropped).toBe(1);
  });

  it("closes the sidebands of a worker that died with 1011, and only those", () => {
    const t = new SidebandSockets();
    const a = t.reserve(0, "w0_a");
    const b = t.reserve(1, "w1_b");
    const [wa, wb] = [new FakeSocket(), new FakeSocket()];
    t.open(a, wa);
    t.open(b, wb);
    t.workerGone(0);
    expect(wa.closed).toEqual([1011, "call ended: worker_exit"]);
    expect(wb.closed).toBeUndefined();
    t.send(b, "still");
    expect(wb.sent).toEqual(["still"]);
  });
});
