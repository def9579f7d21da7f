/**
 * A mock OpenAI-Realtime-compatible WebSocket server, written from the
 * published GA protocol (field names as in the `openai` package's types):
 * `session.created` on connect, `session.updated` for `session.update`,
 * `input_audio_buffer.append` collected as PCM16 24 kHz, and on command a
 * response whose audio is sent at once as `response.output_audio.delta`
 * (faster than real time, as real upstreams do), or a barge-in
 * (`input_audio_buffer.speech_started`). Faults on command: refuse the
 * handshake, drop the socket, send junk. The server plumbing is mock-upstream.ts.
 */
import {
  type Json,
  type MockServer,
  startMockUpstream,
  toneDeltas,
  type UpstreamCall,
} from "./mock-upstream.ts";

export { type Json, UPSTREAM_RATE } from "./mock-upstream.ts";

export interface MockCall extends UpstreamCall {
  /** A response with `ms` of a tone at `freq` Hz, its audio sent in chunks as fast as the socket takes it. */
  respond(o: { ms: number; freq: number; deltaMs?: number; beta?: boolean }): {
    responseId: string;
    itemId: string;
  };
  /** The session as the upstream has it. */
  session: Json;
}

export type RealtimeMock = MockServer<MockCall>;

export function startRealtimeMock(): Promise<RealtimeMock> {
  return startMockUpstream<MockCall>({
    appendType: "input_audio_buffer.append",
    url: (port) => `realtime+ws://127.0.0.1:${port}/v1/realtime?model=mock-realtime`,
    commands(call, n) {
      let responses = 0;
      return {
        session: { id: `sess_mock${n}`, object: "realtime.session", type: "realtime" },
        respond({ ms, freq, deltaMs = 200, beta = false }) {
          const r = ++responses;
          const responseId = `resp_${r}`;
          const itemId = `item_out_${r}`;
          call.send({
            type: "response.created",
            response: { id: responseId, object: "realtime.response", status: "in_progress" },
          });
          call.send({
            type: "response.output_item.added",
            response_id: responseId,
            output_index: 0,
            item: { id: itemId, type: "message", role: "assistant", content: [] },
          });
          for (const delta of toneDeltas(ms, freq, deltaMs))
            call.send({
              type: beta ? "response.audio.delta" : "response.output_audio.delta",
              response_id: responseId,
              item_id: itemId,
              output_index: 0,
              content_index: 0,
              delta,
            });
          call.send({
            type: "response.output_audio.done",
            response_id: responseId,
            item_id: itemId,
            output_index: 0,
            content_index: 0,
          });
          call.send({
            type: "response.done",
            response: { id: responseId, object: "realtime.response", status: "completed" },
          });
          return { responseId, itemId };
        },
      };
    },
    open(call) {
      call.send({ type: "session.created", session: call.session });
    },
    answer(call, e) {
      if (e.type === "session.update") {
        call.session = { ...call.session, ...(e.session as Json) };
        call.send({ type: "session.updated", session: call.session });
      } else if (e.type === "conversation.item.truncate")
        call.send({
          type: "conversation.item.truncated",
          item_id: e.item_id,
          content_index: e.content_index,
          audio_end_ms: e.audio_end_ms,
        });
    },
  });
}
