/**
 * The demo voice agent, sans-IO: a parrot. Server-side VAD finds the user's
 * turn; when the user stops, the agent answers by playing the utterance back,
 * with the Realtime API's events around it. If the user speaks while it
 * plays, it has the transceiver drop the rest at once (barge-in) and then
 * reports how much was heard (`conversation.item.truncated.audio_end_ms`).
 *
 * Input: the transceiver's events and PCM16 (24 kHz) frames. Output: events
 * and audio to send back, in order. A VAD that decides later (Silero, after
 * inference) hands its events to onVadEvents.
 */
import { randomBytes } from "node:crypto";
import { EnergyVad } from "./vad/energy.ts";
import { DEFAULT_VAD, type Vad, type VadConfig, type VadEvent } from "./vad/vad.ts";

type Json = Record<string, unknown>;
export type AgentOutput = { event: Json } | { audio: Buffer };

export interface TurnDetection {
  enabled: boolean;
  vad: VadConfig;
  createResponse: boolean;
  interruptResponse: boolean;
}

/** What the agent reports for latency accounting (bench/bridge-bargein.ts). */
export interface BargeIn {
  responseId: string;
  /** Index of the 20 ms input frame where the speech began. */
  onsetFrame: number;
  /** Index of the 20 ms input frame whose audio made the VAD decide. */
  detectedFrame: number;
}

export interface AgentHooks {
  onBargeIn?: (b: BargeIn) => void;
  onTruncated?: (responseId: string, playedMs: number, totalMs: number) => void;
}

const id = (prefix: string) => `${prefix}_${randomBytes(9).toString("base64url")}`;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);

/** turn_detection from a session object (GA `audio.input.turn_detection`, or beta `turn_detection`). */
export function turnDetection(session: Json, base: VadConfig = DEFAULT_VAD): TurnDetection {
  const audio = isObject(session.audio) ? session.audio : undefined;
  const input = audio && isObject(audio.input) ? audio.input : undefined;
  const td = input && "turn_detection" in input ? input.turn_detection : session.turn_detection;
  if (td === null) return { enabled: false, vad: base, createResponse: false, interruptResponse: false };
  const t = isObject(td) ? td : {};
  return {
    enabled: true,
    vad: {
      ...base,
      threshold: num(t.threshold, base.threshold),
      prefixPaddingMs: num(t.prefix_padding_ms, base.prefixPaddingMs),
      silenceDurationMs: num(t.silence_duration_ms, base.silenceDurationMs),
    },
    createResponse: t.create_response !== false,
    interruptResponse: t.interrupt_response !== false,
  };
}

interface Playing {
  responseId: string;
  itemId: string;
  totalMs: number;
}

const FRAME_MS = 20;

export class ParrotAgent {
  readonly vad: Vad;
  private readonly base: VadConfig;
  private td: TurnDetection;
  private readonly hooks: AgentHooks;
  private inputItem = id("item");
  private previousItem: string | null = null;
  private lastUtterance: Buffer | undefined;
  /** Audio buffered while turn detection is off (committed by input_audio_buffer.commit). */
  private manual: Buffer[] = [];
  /** A response whose audio the transceiver may still be playing. */
  private playing: Playing | undefined;
  private readonly responses = new Map<string, Playing>();

  constructor(
    session: Json,
    base: Partial<VadConfig> = {},
    hooks: AgentHooks = {},
    vadOf: (cfg: VadConfig) => Vad = (cfg) => new EnergyVad(cfg),
  ) {
    this.base = { ...DEFAULT_VAD, ...base };
    this.td = turnDetection(session, this.base);
    this.vad = vadOf(this.td.vad);
    this.hooks = hooks;
  }

  get turnDetection(): TurnDetection {
    return this.td;
  }

  /** One frame (or any length) of the user's PCM16. */
  onAudio(pcm: Buffer): AgentOutput[] {
    if (!this.td.enabled) {
      this.manual.push(pcm);
      return [];
    }
    return this.onVadEvents(this.vad.push(pcm));
  }

  /** Turn events from the VAD (at once from onAudio, or later from inference). */
  onVadEvents(events: VadEvent[]): AgentOutput[] {
    const out: AgentOutput[] = [];
    for (const e of events) out.push(...this.onVad(e));
    return out;
  }

  private onVad(e: VadEvent): AgentOutput[] {
    const out: AgentOutput[] = [];
    if (e.type === "speech_started") {
      out.push({
        event: {
          type: "input_audio_buffer.speech_started",
          audio_start_ms: e.audioStartMs,
          item_id: this.inputItem,
        },
      });
      const p = this.playing;
      if (p && this.td.interruptResponse) {
        // Barge-in: the transceiver drops what is queued and answers output_audio_buffer.cleared.
        out.push({ event: { type: "output_audio_buffer.clear" } });
        this.hooks.onBargeIn?.({
          responseId: p.responseId,
          onsetFrame: Math.floor(e.onsetMs / FRAME_MS),
          detectedFrame: Math.ceil(this.vad.positionMs / FRAME_MS) - 1,
        });
      }
      return out;
    }
    const itemId = this.inputItem;
    out.push({
      event: { type: "input_audio_buffer.speech_stopped", audio_end_ms: e.audioEndMs, item_id: itemId },
    });
    out.push(...this.commit(e.utterance, this.td.createResponse));
    return out;
  }

  private commit(utterance: Buffer, respond: boolean): AgentOutput[] {
    const itemId = this.inputItem;
    const out: AgentOutput[] = [
      {
        event: { type: "input_audio_buffer.committed", previous_item_id: this.previousItem, item_id: itemId },
      },
      {
        event: {
          type: "conversation.item.added",
          previous_item_id: this.previousItem,
          item: {
            id: itemId,
            object: "realtime.item",
            type: "message",
            role: "user",
            status: "completed",
            content: [{ type: "input_audio", transcript: null }],
          },
        },
      },
    ];
    this.previousItem = itemId;
    this.inputItem = id("item");
    if (utterance.length > 0) this.lastUtterance = utterance;
    if (respond) out.push(...this.respond(utterance));
    return out;
  }

  /** A response that plays `audio` (the parrot's answer). */
  private respond(audio: Buffer): AgentOutput[] {
    const responseId = id("resp");
    const itemId = id("item");
    const totalMs = Math.round(audio.length / 48);
    const p: Playing = { responseId, itemId, totalMs };
    this.playing = p;
    this.responses.set(responseId, p);
    const item = (status: string) => ({
      id: itemId,
      object: "realtime.item",
      type: "message",
      role: "assistant",
      status,
      content: [{ type: "output_audio", transcript: null }],
    });
    const response = (status: string, output: unknown[]) => ({
      id: responseId,
      object: "realtime.response",
      status,
      status_details: null,
      output,
      output_modalities: ["audio"],
      usage: null,
    });
    const part = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    this.previousItem = itemId;
    return [
      { event: { type: "response.created", response: response("in_progress", []) } },
      {
        event: {
          type: "response.output_item.added",
          response_id: responseId,
          output_index: 0,
          item: item("in_progress"),
        },
      },
      { event: { type: "conversation.item.added", previous_item_id: null, item: item("in_progress") } },
      { audio },
      { event: { type: "response.output_audio.done", ...part } },
      {
        event: {
          type: "response.output_item.done",
          response_id: responseId,
          output_index: 0,
          item: item("completed"),
        },
      },
      { event: { type: "response.done", response: response("completed", [item("completed")]) } },
    ];
  }

  /** One event from the transceiver (client events and output_audio_buffer notices). */
  onEvent(e: Json): AgentOutput[] {
    switch (e.type) {
      case "session.start":
      case "session.update":
        if (isObject(e.session)) {
          this.td = turnDetection(e.session, this.base);
          this.vad.configure(this.td.vad);
        }
        return [];
      case "output_audio_buffer.stopped":
      case "output_audio_buffer.cleared": {
        const rid = typeof e.response_id === "string" ? e.response_id : undefined;
        const p = rid ? this.responses.get(rid) : this.playing;
        if (p) this.responses.delete(p.responseId);
        if (p && this.playing === p) this.playing = undefined;
        if (p && e.type === "output_audio_buffer.cleared") {
          const played = Math.min(p.totalMs, num(e.played_ms, 0));
          this.hooks.onTruncated?.(p.responseId, played, p.totalMs);
          return [
            {
              event: {
                type: "conversation.item.truncated",
                item_id: p.itemId,
                content_index: 0,
                audio_end_ms: played,
              },
            },
          ];
        }
        return [];
      }
      case "input_audio_buffer.clear":
        this.vad.reset();
        this.manual = [];
        return [{ event: { type: "input_audio_buffer.cleared" } }];
      case "input_audio_buffer.commit": {
        const audio = Buffer.concat(this.manual);
        this.manual = [];
        return this.commit(audio, !this.td.enabled);
      }
      case "response.create":
        return this.respond(this.lastUtterance ?? beep());
      case "response.cancel":
        return this.playing ? [{ event: { type: "output_audio_buffer.clear" } }] : [];
      case "conversation.item.truncate":
        // The client cut an answer short itself (e.g. the Agents SDK after its own interruption).
        return [
          {
            event: {
              type: "conversation.item.truncated",
              item_id: e.item_id,
              content_index: num(e.content_index, 0),
              audio_end_ms: num(e.audio_end_ms, 0),
            },
          },
        ];
      default:
        return [];
    }
  }
}

/** 300 ms of 660 Hz: what the parrot says when it has heard nothing yet. */
export function beep(rate = 24000): Buffer {
  const n = (rate * 300) / 1000;
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const env = Math.min(1, i / 240, (n - i) / 240);
    b.writeInt16LE(Math.round(8000 * env * Math.sin((2 * Math.PI * 660 * i) / rate)), i * 2);
  }
  return b;
}
