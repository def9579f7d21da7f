/**
 * The OpenAI Realtime WebSocket protocol (GA event names, beta aliases
 * accepted) as the bridge's backend vocabulary, sans-IO. What OpenAI's WebRTC
 * endpoint adds and a WebSocket server does not do is done here:
 * - audio arrives as base64 `response.output_audio.delta` (or beta
 *   `response.audio.delta`) and leaves as `input_audio_buffer.append`;
 * - `input_audio_buffer.speech_started` while a response's audio is still
 *   queued or playing becomes an `output_audio_buffer.clear` (barge-in);
 * - when playout of a response is cleared (barge-in or the client's
 *   `output_audio_buffer.clear`), the upstream gets `conversation.item.truncate`
 *   with `audio_end_ms` = what the client actually heard;
 * - the bridge's `output_audio_buffer.started/stopped/cleared` are ours, not
 *   the upstream's: they are not sent upstream.
 */
import { isObject } from "./backends.ts";
import type { Json } from "./oai-events.ts";
import {
  decodePcm,
  type Inbound,
  PCM24,
  parseEvent,
  type UpstreamProtocol,
  withoutOurs,
} from "./upstream-frames.ts";

const AUDIO_DELTAS = new Set(["response.output_audio.delta", "response.audio.delta"]);
/** Fields of our session object that are not the upstream's to be told. */
const OURS = new Set(["id", "object", "model"]);

/** Where a response's audio lives, for truncation. */
interface AudioItem {
  itemId: string;
  contentIndex: number;
}

export class RealtimeEvents implements UpstreamProtocol {
  /** Responses whose audio has arrived and not yet been played out or cleared. */
  private readonly outstanding = new Map<string, AudioItem>();

  /** The session for the upstream: ours without our fields, audio as PCM16 24 kHz both ways. */
  sessionUpdate(session: Json, eventId?: string): Json {
    const s = withoutOurs(session, OURS);
    if (s.input_audio_format !== undefined || s.output_audio_format !== undefined) {
      // A beta-shaped session: keep its shape.
      s.input_audio_format = "pcm16";
      s.output_audio_format = "pcm16";
    } else {
      const audio = isObject(s.audio) ? s.audio : {};
      const input = isObject(audio.input) ? audio.input : {};
      const output = isObject(audio.output) ? audio.output : {};
      s.audio = { ...audio, input: { ...input, format: PCM24 }, output: { ...output, format: PCM24 } };
    }
    return { ...(eventId ? { event_id: eventId } : {}), type: "session.update", session: s };
  }

  /** One frame of the client's audio as the upstream takes it (a JSON text frame). */
  append(pcm: Buffer): string {
    return `{"type":"input_audio_buffer.append","audio":"${pcm.toString("base64")}"}`;
  }

  /** What to send upstream for an event from the bridge (none, one, or a rewrite). */
  toUpstream(event: Json): Json | undefined {
    switch (event.type) {
      case "session.update":
        return this.sessionUpdate(
          isObject(event.session) ? event.session : {},
          typeof event.event_id === "string" ? event.event_id : undefined,
        );
      case "output_audio_buffer.started":
        return undefined;
      case "output_audio_buffer.stopped":
        if (typeof event.response_id === "string") this.outstanding.delete(event.response_id);
        return undefined;
      case "output_audio_buffer.cleared":
        return this.truncate(event);
      default:
        return event;
    }
  }

  /** The client heard `played_ms` of the cleared response: tell the model so. */
  private truncate(cleared: Json): Json | undefined {
    const id = cleared.response_id;
    const item = typeof id === "string" ? this.outstanding.get(id) : undefined;
    if (!item) return undefined;
    this.outstanding.delete(id as string);
    return {
      type: "conversation.item.truncate",
      item_id: item.itemId,
      content_index: item.contentIndex,
      audio_end_ms: typeof cleared.played_ms === "number" ? cleared.played_ms : 0,
    };
  }

  /** One text frame from the upstream. */
  fromUpstream(text: string): Inbound[] {
    const event = parseEvent(text);
    if (typeof event === "string") return [{ kind: "fault", message: event }];
    const type = event.type as string;
    if (AUDIO_DELTAS.has(type)) return [this.delta(event)];
    if (type === "input_audio_buffer.speech_started" && this.outstanding.size > 0)
      return [
        { kind: "event", event },
        { kind: "event", event: { type: "output_audio_buffer.clear" } },
      ];
    return [{ kind: "event", event }];
  }

  private delta(event: Json): Inbound {
    const audio = decodePcm(event, "delta");
    if (audio.kind !== "audio") return audio;
    const responseId = event.response_id;
    if (typeof responseId === "string" && typeof event.item_id === "string")
      this.outstanding.set(responseId, {
        itemId: event.item_id,
        contentIndex: typeof event.content_index === "number" ? event.content_index : 0,
      });
    return audio;
  }
}
