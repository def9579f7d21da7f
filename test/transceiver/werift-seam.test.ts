/**
 * The seam's memory savings must not change werift's behaviour: the RTP
 * history is kept exactly when a NACK can ask for it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { RTCRtpSender } from "werift";
import { createPeer, type SeamPeer, type SeamTransport } from "../../media/transceiver/werift-seam.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

describe("werift seam: RTP history", () => {
  let client: TestClient | undefined;
  let peer: SeamPeer | undefined;
  afterEach(async () => {
    await peer?.pc.close();
    await client?.close();
  });

  async function audioSender(): Promise<RTCRtpSender> {
    client = createTestClient();
    const transport: SeamTransport = {
      type: "udp",
      address: ["127.0.0.1", 9],
      addressFamily: 4,
      closed: false,
      onData: () => {},
      send: async () => {},
      close: async () => {},
    };
    peer = await createPeer({
      offerSdp: await client.offer(),
      ufrag: "hintufrag",
      password: "abcdefghijklmnopqrstuvwx",
      advertised: { address: "127.0.0.1", port: 9 },
      transport,
    });
    const t = peer.pc.getTransceivers().find((x) => x.kind === "audio");
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
