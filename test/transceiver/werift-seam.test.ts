/**
 * The seam's memory savings must not change werift's behaviour: slimmed
 * events behave as werift's own, and the RTP history is kept exactly when a
 * NACK can ask for it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Event, EventDisposer, RTCPeerConnection, type RTCRtpSender } from "werift";
import { keepRtpHistoryOnlyForNack, PEER_CONFIG, slimEvents } from "../../media/transceiver/werift-seam.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

type Log = unknown[];

/** One scenario over every method of an Event; returns what subscribers saw, in order. */
async function exercise(ev: Event<[number]>): Promise<Log> {
  const log: Log = [];
  const a = ev.subscribe(
    (n) => log.push(["a", n]),
    () => log.push("a complete"),
  );
  ev.once((n) => log.push(["once", n]));
  ev.queuingSubscribe(async (n) => {
    await Promise.resolve();
    log.push(["queued", n]);
  });
  const watched = ev.watch((n) => n === 3);
  const promised = ev.asPromise();
  const disposer = new EventDisposer();
  ev.subscribe((n) => log.push(["b", n])).disposer(disposer);
  ev.execute(1);
  log.push(["length", ev.length]);
  a.unSubscribe();
  ev.execute(2);
  disposer.dispose();
  ev.execute(3);
  log.push(["watched", await watched], ["promised", await promised]);
  await new Promise((r) => setTimeout(r, 0));
  const failing = new Promise((resolve) => ev.subscribe(() => {}, undefined, resolve));
  ev.error(new Error("boom"));
  log.push(["error", String(await failing)], ["length after error", ev.length]);
  ev.subscribe(
    () => {},
    () => log.push("c complete"),
  );
  ev.onended = () => log.push("ended");
  ev.complete();
  ev.execute(4);
  log.push(["ended", ev.ended], ["length after complete", ev.length]);
  expect(() => ev.queuingSubscribe(async () => {})).toThrow("event completed");
  return log;
}

describe("werift seam: slimmed events", () => {
  it("behave as werift's own", async () => {
    const plain = new Event<[number]>();
    const slim = new Event<[number]>();
    slimEvents({ nested: [new Map([["k", { slim }]])] });
    expect(slim.execute).not.toBe(new Event().execute);
    expect(Object.keys(slim)).toEqual(Object.keys(plain));
    expect(await exercise(slim)).toEqual(await exercise(plain));
  });

  it("report errors of queuing subscribers to onerror, as werift's do", async () => {
    for (const slim of [false, true]) {
      const ev = new Event<[]>();
      if (slim) slimEvents({ ev });
      const seen = new Promise((resolve) => {
        ev.onerror = resolve;
      });
      ev.queuingSubscribe(async () => {
        throw new Error("queued failure");
      });
      ev.execute();
      expect(String(await seen)).toBe("Error: queued failure");
    }
  });

  it("share the same methods across instances", () => {
    const events = [new Event(), new Event()];
    slimEvents({ events });
    expect(events[0]!.subscribe).toBe(events[1]!.subscribe);
  });
});

describe("werift seam: RTP history", () => {
  let client: TestClient | undefined;
  let pc: RTCPeerConnection | undefined;
  afterEach(async () => {
    await pc?.close();
    await client?.close();
  });

  async function audioSender(): Promise<RTCRtpSender> {
    client = createTestClient();
    pc = new RTCPeerConnection(PEER_CONFIG);
    await pc.setRemoteDescription({ type: "offer", sdp: await client.offer() });
    // As createPeer does: never look up werift's default public STUN host.
    for (const ice of pc.iceTransports) {
      const c = ice.connection as unknown as { stunServer: unknown; options: { stunServer?: unknown } };
      c.stunServer = undefined;
      c.options.stunServer = undefined;
    }
    const t = pc.getTransceivers().find((x) => x.kind === "audio");
    keepRtpHistoryOnlyForNack(t!.sender);
    await pc.setLocalDescription(await pc.createAnswer());
    return t!.sender;
  }
  type Internals = { rtpCache: unknown[]; scheduleRtpContinuity(): void };

  it("keeps none while the codec has no NACK (werift's Opus answer), a ring once it has", async () => {
    const sender = await audioSender();
    const s = sender as unknown as Internals;
    expect(sender.codec?.name.toLowerCase()).toBe("opus");
    expect(sender.codec?.rtcpFeedback.some((f) => f.type === "nack")).toBe(false);
    s.rtpCache[7] = "packet";
    expect(s.rtpCache[7]).toBeUndefined();
    // werift replaces the ring on a track or source change: still none.
    s.scheduleRtpContinuity();
    s.rtpCache[7] = "packet";
    expect(s.rtpCache[7]).toBeUndefined();

    sender.codec!.rtcpFeedback.push({ type: "nack" });
    s.scheduleRtpContinuity();
    s.rtpCache[7] = "packet";
    expect(s.rtpCache[7]).toBe("packet");
  });
});
