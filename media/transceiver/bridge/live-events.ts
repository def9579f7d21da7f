/**
 * OpenAI's GPT-Live WebSocket protocol (the `openai` package's
 * resources/live types; docs/bridge.md says which field came from where) as
 * the bridge's backend vocabulary, sans-IO:
 * - the first message is `session.start` with the session's config (model
 *   included: Live takes it there, not in the URL) and audio as PCM16 24 kHz;
 *   the session is up once `session.started` answers it;
 * - audio leaves as `session.input_audio.append` and arrives as base64
 *   `session.output_audio.delta`;
 * - `session.update` carries only what Live lets change after startup
 *   (delegation, triggers);
 * - our goodbye is `session.close`; the upstream's `session.closed` ends the
 *   call cleanly with its reason.
 * Live has no responses, barge-in event or truncation on this socket: the
 * upstream handles interruptions itself, so the bridge's output_audio_buffer.*
 * events stay on our side.
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

/** Fields of our Live session resource that are not the upstream's to be told. */
const OURS = new Set(["id", "object", "type", "status", "expires_at"]);
/** What Live's session.update may change once the session runs (SessionUpdateConfig). */
const MUTABLE = ["delegation", "triggers"] as const;

/** How the upstream answered session.start. */
export type Handshake = { started: Json } | { refused: string };

export class LiveEvents implements UpstreamProtocol {
  /** The upstream sent session.closed: the session is over on its side. */
  private ended = false;

  /** The first message: our session without our fields, the model, audio as PCM16 24 kHz. */
  sessionStart(session: Json, model: string): Json {
    const s = withoutOurs(session, OURS);
    if (typeof s.model !== "string" || s.model === "") s.model = model;
    s.audio = { ...(isObject(s.audio) ? s.audio : {}), format: PCM24 };
    return { type: "session.start", session: s };
  }

  /** The upstream's answer to session.start (the first frame it sends). */
  handshake(text: string): Handshake {
    const event = parseEvent(text);
    if (typeof event === "string") return { refused: event };
    if (event.type === "session.started") return { started: isObject(event.session) ? event.session : {} };
    if (event.type === "error") {
      const e = isObject(event.error) ? event.error : {};
      const code = typeof e.code === "string" ? e.code : "error";
      return { refused: `it answered session.start with ${code}: ${String(e.message ?? "")}`.trim() };
    }
    return { refused: `it sent ${String(event.type).slice(0, 64)} before session.started` };
  }

  append(pcm: Buffer): string {
    return `{"type":"session.input_audio.append","audio":"${pcm.toString("base64")}"}`;
  }

  /** Our goodbye, unless the upstream has already closed the session. */
  closeEvent(): Json | undefined {
    return this.ended ? undefined : { type: "session.close" };
  }

  toUpstream(event: Json): Json | undefined {
    switch (event.type) {
      case "session.update":
        return this.sessionUpdate(event);
      case "output_audio_buffer.started":
      case "output_audio_buffer.stopped":
      case "output_audio_buffer.cleared":
        return undefined;
      default:
        return event;
    }
  }

  /** The bridge sends the whole session; Live takes only the mutable part (nothing: nothing to send). */
  private sessionUpdate(event: Json): Json | undefined {
    const session = isObject(event.session) ? event.session : {};
    const s: Json = {};
    for (const k of MUTABLE) if (session[k] !== undefined) s[k] = session[k];
    if (Object.keys(s).length === 0) return undefined;
    return {
      type: "session.update",
      ...(typeof event.event_id === "string" ? { event_id: event.event_id } : {}),
      session: s,
    };
  }

  fromUpstream(text: string): Inbound[] {
    const event = parseEvent(text);
    if (typeof event === "string") return [{ kind: "fault", message: event }];
    if (event.type === "session.output_audio.delta") return [decodePcm(event, "delta")];
    if (event.type === "session.closed") {
      this.ended = true;
      return [{ kind: "end", reason: typeof event.reason === "string" ? event.reason : "close_requested" }];
    }
    return [{ kind: "event", event }];
  }
}
