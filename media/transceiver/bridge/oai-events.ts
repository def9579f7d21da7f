/**
 * The `oai-events` data channel, sans-IO: Realtime API events as JSON both
 * ways. The transceiver owns the session object (`session.created` when the
 * channel opens, `session.updated` for every accepted `session.update`) and
 * output audio (`output_audio_buffer.clear`); other client events go to the
 * backend and backend events go to the client. Bad input gets an `error`
 * event, never an exception. A session whose config says `type: "live"` speaks
 * GPT-Live's dialect instead: `session.started` first, Live's client events,
 * `session.close`, and `session.closed` with usage at the end.
 */
import { randomBytes } from "node:crypto";
import { isObject } from "./backends.ts";

export type Json = Record<string, unknown>;

export type Action =
  | { kind: "client"; event: Json }
  | { kind: "backend"; event: Json }
  /** Drop queued output audio now (the client's or the backend's output_audio_buffer.clear). */
  | { kind: "clear"; eventId?: string }
  /** Audio that follows from the backend belongs to this response. */
  | { kind: "begin"; responseId: string }
  /** The response's audio is complete (stopped follows once it has played). */
  | { kind: "finish"; responseId: string | undefined }
  /** The client asked to end the session (Live's session.close). */
  | { kind: "close" };

/** Client events of the Realtime API (GA and beta names). Anything else gets an error. */
export const CLIENT_EVENTS: ReadonlySet<string> = new Set([
  "session.update",
  "input_audio_buffer.append",
  "input_audio_buffer.commit",
  "input_audio_buffer.clear",
  "conversation.item.create",
  "conversation.item.retrieve",
  "conversation.item.truncate",
  "conversation.item.delete",
  "response.create",
  "response.cancel",
  "output_audio_buffer.clear",
  "transcription_session.update",
]);

/** GPT-Live's client events on WebRTC (session.start and input_audio.append are WebSocket-only). */
export const LIVE_CLIENT_EVENTS: ReadonlySet<string> = new Set([
  "session.update",
  "session.input_audio.mute",
  "session.input_audio.unmute",
  "session.output_audio.fixture.play",
  "session.instructions.append",
  "session.thinking.append",
  "session.commentary.append",
  "decision.create",
  "decision.item.create",
  "decision.item.delete",
  "response.item.create",
  "response.create",
  "session.close",
]);

/** Why a Live session ended, as `session.closed` says it. */
export type LiveCloseReason = "close_requested" | "expired" | "content" | "remote_hangup" | "connection_lost";
const LIVE_CLOSE_REASONS: ReadonlySet<string> = new Set([
  "close_requested",
  "expired",
  "content",
  "remote_hangup",
  "connection_lost",
]);
export const isLiveCloseReason = (r: string): r is LiveCloseReason => LIVE_CLOSE_REASONS.has(r);

/** Events only the transceiver sends the client; a backend's are dropped. */
const TRANSCEIVER_OWNED = new Set([
  "session.created",
  "session.updated",
  "session.started",
  "session.closed",
  "output_audio_buffer.started",
  "output_audio_buffer.stopped",
  "output_audio_buffer.cleared",
]);

const MAX_EVENT_BYTES = 256 * 1024;

export const newEventId = (): string => `event_${randomBytes(12).toString("base64url")}`;

export interface OaiEventsOptions {
  sessionId: string;
  model: string;
  /** The session config from the session API (the edge passes the client's). */
  initial?: unknown;
}

export interface OaiStats {
  fromClient: number;
  toClient: number;
  fromBackend: number;
  clientErrors: number;
  backendDropped: number;
}

export class OaiEvents {
  /** The current session object, as session.created / session.updated show it. */
  session: Json;
  /** GPT-Live's dialect (the session config's `type` is "live"). */
  readonly live: boolean;
  readonly stats: OaiStats = {
    fromClient: 0,
    toClient: 0,
    fromBackend: 0,
    clientErrors: 0,
    backendDropped: 0,
  };

  constructor(o: OaiEventsOptions) {
    const initial = isObject(o.initial) ? structuredClone(o.initial) : {};
    const problem = checkSession(initial);
    // A bad initial config was the edge's to refuse; keep what is valid, drop the bad field.
    if (problem) deletePath(initial, problem.param);
    this.live = initial.type === "live";
    this.session = this.live
      ? // Live's session resource; expires_at 0: this edge sets no duration limit.
        {
          ...initial,
          id: `sess_${o.sessionId}`,
          type: "live",
          model: o.model,
          status: "active",
          expires_at: 0,
        }
      : {
          ...initial,
          id: `sess_${o.sessionId}`,
          object: "realtime.session",
          type: typeof initial.type === "string" ? initial.type : "realtime",
          model: o.model,
        };
  }

  /** The first event on the channel. */
  created(): Json {
    return this.server({ type: this.live ? "session.started" : "session.created", session: this.session });
  }

  /** Live's last event: why the session ended and its usage (connected seconds). */
  closed(reason: LiveCloseReason, seconds: number): Json {
    return this.server({ type: "session.closed", reason, session: this.session, usage: { seconds } });
  }

  /** What to do with one message from the client. */
  fromClient(data: string | Buffer): Action[] {
    this.stats.fromClient++;
    const text = typeof data === "string" ? data : data.toString("utf8");
    if (text.length > MAX_EVENT_BYTES)
      return [
        this.clientError("invalid_request_error", "event_too_large", "the event is larger than 256 KiB"),
      ];
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch (err) {
      return [
        this.clientError(
          "invalid_request_error",
          "invalid_json",
          `the event is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
        ),
      ];
    }
    if (!isObject(event))
      return [this.clientError("invalid_request_error", "invalid_event", "an event must be a JSON object")];
    const eventId = typeof event.event_id === "string" ? event.event_id : undefined;
    const type = event.type;
    if (typeof type !== "string")
      return [
        this.clientError(
          "invalid_request_error",
          "missing_type",
          "the event has no string 'type'",
          "type",
          eventId,
        ),
      ];
    if (!(this.live ? LIVE_CLIENT_EVENTS : CLIENT_EVENTS).has(type))
      return [
        this.clientError(
          "invalid_request_error",
          "unknown_event_type",
          `unknown client event type "${type.slice(0, 100)}"`,
          "type",
          eventId,
        ),
      ];
    if (type === "session.update") return this.sessionUpdate(event, eventId);
    if (type === "output_audio_buffer.clear") return [{ kind: "clear", eventId }];
    if (type === "session.close") return [{ kind: "close" }];
    return [{ kind: "backend", event }];
  }

  private sessionUpdate(event: Json, eventId: string | undefined): Action[] {
    const patch = event.session;
    if (!isObject(patch))
      return [
        this.clientError(
          "invalid_request_error",
          "invalid_value",
          "session.update needs a 'session' object",
          "session",
          eventId,
        ),
      ];
    const problem = checkSession(patch);
    if (problem)
      return [
        this.clientError("invalid_request_error", "invalid_value", problem.message, problem.param, eventId),
      ];
    const { id: _id, object: _object, model: _model, ...rest } = patch;
    this.session = merge(this.session, rest);
    return [
      { kind: "client", event: this.server({ type: "session.updated", session: this.session }) },
      // Backends get the whole merged session, never a patch to apply.
      {
        kind: "backend",
        event: { type: "session.update", ...(eventId ? { event_id: eventId } : {}), session: this.session },
      },
    ];
  }

  /** What to do with one JSON event from the backend (already parsed). */
  fromBackend(event: Json): Action[] {
    this.stats.fromBackend++;
    const type = event.type;
    if (typeof type !== "string" || TRANSCEIVER_OWNED.has(type)) {
      this.stats.backendDropped++;
      return [];
    }
    if (type === "output_audio_buffer.clear") return [{ kind: "clear" }];
    const actions: Action[] = [];
    const response = isObject(event.response) ? event.response : undefined;
    const responseId =
      typeof event.response_id === "string"
        ? event.response_id
        : typeof response?.id === "string"
          ? response.id
          : undefined;
    if (type === "response.created" && responseId) actions.push({ kind: "begin", responseId });
    if (type === "response.output_audio.done" || type === "response.audio.done" || type === "response.done")
      actions.push({ kind: "finish", responseId });
    actions.push({ kind: "client", event: typeof event.event_id === "string" ? event : this.server(event) });
    return actions;
  }

  /** A server event with a fresh event_id (first, as the Realtime API orders fields). */
  server(event: Json): Json {
    this.stats.toClient++;
    return { event_id: newEventId(), ...event };
  }

  /** An `error` event in the Realtime API's shape. */
  error(type: string, code: string, message: string, param: string | null = null, eventId?: string): Json {
    return this.server({
      type: "error",
      error: { type, code, message, param, event_id: eventId ?? null },
    });
  }

  private clientError(
    type: string,
    code: string,
    message: string,
    param: string | null = null,
    eventId?: string,
  ): Action {
    this.stats.clientErrors++;
    return { kind: "client", event: this.error(type, code, message, param, eventId) };
  }
}

const PCM_TYPES = new Set(["audio/pcm", "audio/pcmu", "audio/pcma"]);
const BETA_FORMATS = new Set(["pcm16", "g711_ulaw", "g711_alaw"]);

/**
 * Checks the audio format fields. Every PCM format the Realtime API knows is
 * accepted; none changes the WebRTC codec (Opus), and backends always get
 * PCM16 at 24 kHz.
 */
export function checkSession(s: Json): { param: string; message: string } | undefined {
  const audio = s.audio;
  if (audio !== undefined) {
    if (!isObject(audio)) return { param: "session.audio", message: "'audio' must be an object" };
    for (const dir of ["input", "output"] as const) {
      const d = audio[dir];
      if (d === undefined) continue;
      if (!isObject(d)) return { param: `session.audio.${dir}`, message: `'audio.${dir}' must be an object` };
      const f = d.format;
      if (f === undefined) continue;
      const param = `session.audio.${dir}.format`;
      if (!isObject(f) || typeof f.type !== "string" || !PCM_TYPES.has(f.type))
        return {
          param,
          message: `'${param.slice(8)}' must be {type: "audio/pcm" | "audio/pcmu" | "audio/pcma"}`,
        };
      if (f.type === "audio/pcm" && f.rate !== undefined && f.rate !== 24000)
        return { param: `${param}.rate`, message: "audio/pcm supports only rate 24000" };
    }
  }
  for (const key of ["input_audio_format", "output_audio_format"]) {
    const v = s[key];
    if (v !== undefined && (typeof v !== "string" || !BETA_FORMATS.has(v)))
      return { param: `session.${key}`, message: `'${key}' must be "pcm16", "g711_ulaw" or "g711_alaw"` };
  }
  return undefined;
}

/** Deep merge of plain objects; anything else (arrays, null, scalars) replaces. */
export function merge(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = isObject(v) && isObject(b) ? merge(b, v) : v;
  }
  return out;
}

function deletePath(o: Json, param: string): void {
  const parts = param.replace(/^session\./, "").split(".");
  let cur: Json | undefined = o;
  for (const p of parts.slice(0, -1)) cur = isObject(cur?.[p]) ? (cur[p] as Json) : undefined;
  if (cur) delete cur[parts.at(-1)!];
}
