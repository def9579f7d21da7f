/** The bridge's backend lifecycle as plain calls and actions: no sockets, no timers. */
import { describe, expect, it } from "vitest";
import {
  BridgeLifecycle,
  backoffMs,
  CLOSE,
  closeFor,
  type LifecycleAction,
} from "../../media/transceiver/bridge/lifecycle.ts";

const lc = (reconnect = 0, stallTimeoutMs = 10_000) => {
  const l = new BridgeLifecycle({ reconnect, stallTimeoutMs, endFlushMs: 1000 });
  expect(l.linkUp()).toEqual([]);
  expect(l.state).toBe("open");
  return l;
};
const kinds = (a: LifecycleAction[]) => a.map((x) => x.kind);
const open = { state: "open" as const, bufferedAmount: 0 };

describe("bridge lifecycle", () => {
  it("a backend closing with 1000 ends the call cleanly, after the channel has flushed", () => {
    const l = lc(3);
    expect(l.linkLost(0, 1000, "bye")).toEqual([{ kind: "stopPlayout" }]);
    expect(l.state).toBe("ending");
    // No error, no reconnect: the agent hung up.
    expect(l.failure).toBeUndefined();
    expect(l.tick(10, { state: "open", bufferedAmount: 100 })).toEqual([]);
    expect(l.tick(20, open)).toEqual([{ kind: "closeChannel" }, { kind: "endSession", reason: "ended" }]);
    expect(l.state).toBe("closed");
    expect(l.tick(30, open)).toEqual([]);
  });

  it("a dropped link with no reconnects left is an error to the client and a session end", () => {
    const l = lc(0);
    const a = l.linkLost(0, 1006, "");
    expect(kinds(a)).toEqual(["clientError", "stopPlayout"]);
    expect(a[0]).toMatchObject({
      code: "backend_disconnected",
      message: expect.stringContaining("code 1006"),
    });
    expect(l.failure).toBe("backend_disconnected");
    // A channel still busy past the flush time is closed anyway.
    expect(l.tick(500, { state: "open", bufferedAmount: 1 })).toEqual([]);
    expect(kinds(l.tick(1001, { state: "open", bufferedAmount: 1 }))).toEqual(["closeChannel", "endSession"]);
  });

  it("a link fault is an error even when its close code is 1000", () => {
    const l = lc(0);
    const a = l.linkLost(0, 1000, "upstream went", "backend_disconnected");
    expect(a[0]).toMatchObject({ kind: "clientError", code: "backend_disconnected" });
    const p = lc(0);
    expect(p.linkLost(0, 1002, "bad base64", "backend_protocol_error")[0]).toMatchObject({
      code: "backend_protocol_error",
    });
    expect(p.failure).toBe("backend_protocol_error");
  });

  it("a protocol fault is not retried, whatever the reconnect setting: the same backend would break it again", () => {
    const l = lc(3);
    const a = l.linkLost(0, 1002, "not JSON", "backend_protocol_error");
    expect(kinds(a)).toEqual(["clientError", "stopPlayout"]);
    expect(l.reconnects).toBe(0);
    expect(l.failure).toBe("backend_protocol_error");
  });

  it("a first link that cannot be opened is counted as backend_unavailable, and a late one is discarded", () => {
    const l = new BridgeLifecycle({ reconnect: 1, stallTimeoutMs: 1000 });
    l.connectFailed();
    expect(l.state).toBe("closed");
    expect(l.failure).toBe("backend_unavailable");
    // Only the first connect counts: a lost link later is not "unavailable".
    const r = lc(0);
    r.connectFailed();
    expect(r.state).toBe("open");
    expect(r.failure).toBeUndefined();
  });

  it("reconnects with backoff 100, 200, 400 ms ... 2 s, and gives up after the configured attempts", () => {
    expect([1, 2, 3, 4, 5, 6].map(backoffMs)).toEqual([100, 200, 400, 800, 1600, 2000]);
    const l = lc(3);
    expect(l.linkLost(0, 1006, "gone")).toEqual([{ kind: "retryIn", ms: 100 }]);
    expect(l.state).toBe("reconnecting");
    expect(l.linked).toBe(false);
    // A close of the old link arriving late changes nothing.
    expect(l.linkLost(1, 1006, "")).toEqual([]);
    expect(l.retry()).toEqual([{ kind: "dial" }]);
    expect(l.dialFailed(150)).toEqual([{ kind: "retryIn", ms: 200 }]);
    expect(l.retry()).toEqual([{ kind: "dial" }]);
    expect(l.dialFailed(400)).toEqual([{ kind: "retryIn", ms: 400 }]);
    expect(l.retry()).toEqual([{ kind: "dial" }]);
    const a = l.dialFailed(900);
    expect(kinds(a)).toEqual(["clientError", "stopPlayout"]);
    expect(a[0]).toMatchObject({ message: expect.stringContaining("3 reconnect attempts failed") });
    expect(l.reconnects).toBe(3);
    expect(l.retry()).toEqual([]);
  });

  it("a reconnect that succeeds makes the link usable again and counts", () => {
    const l = lc(2);
    l.linkLost(0, 1011, "oops");
    l.retry();
    expect(l.linkUp()).toEqual([]);
    expect(l.linked).toBe(true);
    expect(l.reconnects).toBe(1);
    // The next drop has one attempt left.
    expect(l.linkLost(5, 1006, "")).toEqual([{ kind: "retryIn", ms: 200 }]);
  });

  it("a link that opens after the session went is closed, not used", () => {
    const l = new BridgeLifecycle({ reconnect: 1, stallTimeoutMs: 1000 });
    expect(l.close("setup")).toEqual([{ kind: "closeLink", code: 1000, reason: "setup" }]);
    expect(l.linkUp()).toEqual([{ kind: "discardLink", code: 1000, reason: "setup" }]);
    expect(l.linked).toBe(false);
    const r = lc(1);
    r.linkLost(0, 1006, "");
    r.retry();
    r.close("shutdown");
    // The link that opens late hears the same end as the one that was there.
    expect(r.linkUp()).toEqual([{ kind: "discardLink", code: 1001, reason: "shutdown" }]);
    expect(r.dialFailed(1)).toEqual([]);
  });

  it("a backend that stops reading fails after the stall timeout: closed with 1011, then reconnect or end", () => {
    const l = lc(0, 500);
    expect(l.checkStall(100, 0)).toEqual([]);
    expect(l.checkStall(600, 100)).toEqual([]);
    const a = l.checkStall(601, 100);
    expect(a[0]).toEqual({ kind: "closeLink", code: CLOSE.internal, reason: "stalled" });
    expect(a[1]).toMatchObject({ kind: "clientError", code: "backend_stalled" });
    expect(l.failure).toBe("backend_stalled");
    const r = lc(1, 500);
    expect(kinds(r.checkStall(601, 100))).toEqual(["closeLink", "retryIn"]);
  });

  it("the backend hears the session's end at once, with a documented code per reason", () => {
    for (const reason of ["ended", "silence", "failed", "setup", "backend"])
      expect(lc().close(reason)).toEqual([{ kind: "closeLink", code: 1000, reason }]);
    expect(lc().close("shutdown")).toEqual([{ kind: "closeLink", code: 1001, reason: "shutdown" }]);
    expect(closeFor("shutdown").code).toBe(CLOSE.goingAway);
    // Closed is final: nothing the old link does afterwards matters.
    const l = lc(3);
    l.close("ended");
    expect(l.linkLost(0, 1006, "")).toEqual([]);
    expect(l.checkStall(1e9, 1)).toEqual([]);
    expect(l.tick(1e9, open)).toEqual([]);
  });
});
