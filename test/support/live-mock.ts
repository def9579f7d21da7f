/**
 * A mock GPT-Live WebSocket server, written from the `openai` package's
 * resources/live types (7.55.0): the client's first event must be
 * `session.start`, answered with `session.started` and the resolved session
 * resource; `session.input_audio.append` collected as PCM16 24 kHz;
 * `session.update` answered with `session.updated`; `session.close` answered
 * with `session.closed` (reason close_requested, usage) and a close. On
 * command: speech as `session.output_audio.delta` chunks sent at once, with
 * its `session.output_transcript.delta`; the end of the session
 * (`session.closed` with a reason); refusing session.start with an `error`.
 * The server plumbing (refusing the handshake, calls, waits) is mock-upstream.ts.
 */
import {
  type Json,
  type MockServer,
  startMockUpstream,
  toneDeltas,
  type UpstreamCall,
} from "./mock-upstream.ts";

export interface LiveCall extends UpstreamCall {
  /** The session resource as session.started gave it. */
  session: Json;
  /** `ms` of a tone at `freq` Hz as session.output_audio.delta chunks, as fast as the socket takes them. */
  speak(o: { ms: number; freq: number; deltaMs?: number }): void;
  /** The upstream ends the session itself. */
  end(reason: string, seconds?: number): void;
}

export interface LiveMock extends MockServer<LiveCall> {
  /** Answer session.start with this error code instead of session.started ("": accept). */
  rejectStart: string;
  /** Never answer session.start (an upstream that hangs). */
  holdStart: boolean;
  /** Frames sent right after session.started, in the same write burst. */
  afterStart: string[];
}

let events = 0;
const eventId = () => `event_live${++events}`;

export async function startLiveMock(): Promise<LiveMock> {
  const mock: LiveMock = Object.assign(
    await startMockUpstream<LiveCall>({
      appendType: "session.input_audio.append",
      url: (port) => `live+ws://127.0.0.1:${port}/v1/live/sessions`,
      commands(call, n) {
        let ms0 = 0;
        return {
          session: { id: `sess_live${n}` },
          speak({ ms, freq, deltaMs = 200 }) {
            call.send({
              type: "session.output_transcript.delta",
              event_id: eventId(),
              delta: `tone ${freq}`,
              start_ms: ms0,
              end_ms: ms0 + ms,
            });
            ms0 += ms;
            for (const delta of toneDeltas(ms, freq, deltaMs))
              call.send({ type: "session.output_audio.delta", delta });
          },
          end(reason, seconds = 1) {
            call.send({
              type: "session.closed",
              event_id: eventId(),
              reason,
              session: (call as LiveCall).session,
              usage: { seconds },
            });
            call.ws.close(1000);
          },
        };
      },
      open() {},
      answer(call, e) {
        const started = call.received.some(
          (r, i) => r.type === "session.start" && i < call.received.length - 1,
        );
        if (e.type === "session.start") {
          if (started || call.received.length > 1)
            return call.send({
              type: "error",
              event_id: eventId(),
              error: { type: "invalid_request_error", code: "session_already_started", message: "already" },
            });
          if (mock.holdStart) return;
          if (mock.rejectStart)
            return call.send({
              type: "error",
              event_id: eventId(),
              error: {
                type: "invalid_request_error",
                code: mock.rejectStart,
                message: "session.start refused",
                param: "session.model",
              },
            });
          call.session = {
            ...(e.session as Json),
            id: call.session.id,
            expires_at: 1_900_000_000,
            status: "active",
          };
          call.send({ type: "session.started", event_id: eventId(), session: call.session });
          for (const f of mock.afterStart) call.send(f);
          return;
        }
        if (!started)
          return call.send({
            type: "error",
            event_id: eventId(),
            error: {
              type: "invalid_request_error",
              code: "session_not_started",
              message: "send session.start first",
            },
          });
        const reply = typeof e.event_id === "string" ? { client_event_id: e.event_id } : {};
        if (e.type === "session.update") {
          call.session = { ...call.session, ...(e.session as Json) };
          call.send({ type: "session.updated", event_id: eventId(), ...reply, session: call.session });
        } else if (e.type === "session.close") {
          call.send({
            type: "session.closed",
            event_id: eventId(),
            ...reply,
            reason: "close_requested",
            session: call.session,
            usage: { seconds: 1 },
          });
          call.ws.close(1000);
        } else if (e.type === "session.instructions.append")
          call.send({
            type: "session.instructions.appended",
            event_id: eventId(),
            ...reply,
            start_ms: 0,
            end_ms: 0,
          });
      },
    }),
    { rejectStart: "", holdStart: false, afterStart: [] as string[] },
  );
  return mock;
}
