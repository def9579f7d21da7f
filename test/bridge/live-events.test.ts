/** GPT-Live's dialect on the `oai-events` channel (a session config with type "live"); its greeting is in events.test.ts. */
import { describe, expect, it } from "vitest";
import { liveCloseReason } from "../../media/transceiver/bridge/bridge.ts";
import { type Action, type Json, OaiEvents } from "../../media/transceiver/bridge/oai-events.ts";

const live = () =>
  new OaiEvents({ sessionId: "w0_abc", model: "gpt-live-1", initial: { type: "live", instructions: "hi" } });
const send = (e: OaiEvents, event: Json) => e.fromClient(JSON.stringify(event));
const kinds = (a: Action[]) => a.map((x) => x.kind);

describe("oai-events: GPT-Live", () => {
  it("sends Live's client events to the backend and refuses the Realtime API's", () => {
    const e = live();
    expect(kinds(send(e, { type: "session.instructions.append", instructions: "x" }))).toEqual(["backend"]);
    expect(kinds(send(e, { type: "response.create" }))).toEqual(["backend"]);
    const refused = send(e, { type: "input_audio_buffer.append", audio: "" });
    expect(kinds(refused)).toEqual(["client"]);
    expect((refused[0] as { event: Json }).event).toMatchObject({
      type: "error",
      error: { code: "unknown_event_type", param: "type" },
    });
    // WebSocket-only events are not taken on WebRTC either.
    expect(kinds(send(e, { type: "session.input_audio.append", audio: "" }))).toEqual(["client"]);
    // A Realtime session does not take Live's.
    const realtime = new OaiEvents({ sessionId: "w0_x", model: "m" });
    expect(kinds(realtime.fromClient(JSON.stringify({ type: "session.close" })))).toEqual(["client"]);
  });

  it("session.close asks to end the session; session.closed reports why and the usage", () => {
    const e = live();
    expect(send(e, { type: "session.close" })).toEqual([{ kind: "close" }]);
    const closed = e.closed("close_requested", 12.5);
    expect(closed).toMatchObject({
      type: "session.closed",
      reason: "close_requested",
      usage: { seconds: 12.5 },
      session: { id: "sess_w0_abc", model: "gpt-live-1" },
    });
  });

  it("a backend cannot send the events the transceiver owns", () => {
    const e = live();
    expect(e.fromBackend({ type: "session.started", session: {} })).toEqual([]);
    expect(e.fromBackend({ type: "session.closed", reason: "expired" })).toEqual([]);
    expect(e.stats.backendDropped).toBe(2);
  });

  it("names each way a session ends", () => {
    expect(liveCloseReason("ended", false, true)).toBe("close_requested"); // session.close
    expect(liveCloseReason("ended", false, false)).toBe("close_requested"); // hangup
    expect(liveCloseReason("ended", true, false)).toBe("remote_hangup"); // the client's goodbye
    for (const r of ["silence", "failed", "backend", "shutdown", "setup"] as const)
      expect(liveCloseReason(r, false, false)).toBe("connection_lost");
  });
});
