/**
 * The bridge of one session: WebRTC on one side (the client's Opus RTP and
 * its `oai-events` data channel), a backend WebSocket on the other (PCM16 at
 * 24 kHz and JSON events; docs/backend-protocol.md). It is attached through
 * Session.start's prepare hook and paced by the worker's one Pacer.
 */
import { createLogger, type Logger } from "../../runtime/log.ts";
import type { CloseReason } from "../close-reason.ts";
import type { InboundRtp, PeerAudio, PeerChannel, PeerMedia } from "../peer.ts";
import { BackendLink, type BackendLinkStats, CLOSE } from "./backend-client.ts";
import { BackendError, type BridgeConfig, resolveBackend, sessionModel } from "./backends.ts";
import { type InputStats, InputTimeline } from "./input.ts";
import { type Action, type Json, OaiEvents, type OaiStats } from "./oai-events.ts";
import { FRAME_MS, OpusDecoder, OpusEncoder } from "./opus.ts";
import type { PacedStream, Pacer } from "./pacer.ts";
import { Playout, type PlayoutEvent, type PlayoutStats } from "./playout.ts";

export const CHANNEL_LABEL = "oai-events";
/** The backends' audio: PCM16 little-endian, mono, 24 kHz. */
export const BACKEND_RATE = 24000;
const FRAME_BYTES = (BACKEND_RATE / 1000) * FRAME_MS * 2;
const SILENCE = Buffer.alloc(FRAME_BYTES);
/** Stop reading the backend when this much output audio is queued; read again below the low mark. */
const QUEUE_HIGH_MS = 60_000;
const QUEUE_LOW_MS = 30_000;
/** Events to the client are dropped while this much is still waiting in the data channel. */
const CHANNEL_MAX_BUFFERED = 4 << 20;
/** Events kept for a client whose channel is not open yet. */
const EARLY_EVENTS_MAX = 512;
/** How long an ending session waits for its last events to leave the data channel. */
const END_FLUSH_MS = 1000;

let sharedLog: Logger | undefined;
const log = () => (sharedLog ??= createLogger("transceiver", { component: "bridge" }));

export type BridgeState = "connecting" | "open" | "reconnecting" | "ending" | "closed";

export interface BridgeStats {
  model: string;
  backend: string;
  state: BridgeState;
  reconnects: number;
  /** Events not sent to the client because its data channel was backed up. */
  eventsDropped: number;
  /** Why the backend link failed for good (an error code sent to the client), if it did. */
  failure?: string;
  decodeErrors: number;
  input: InputStats;
  output: PlayoutStats;
  link: BackendLinkStats;
  events: OaiStats;
}

export interface BridgeOptions {
  sessionId: string;
  callId?: string;
  /** The session config from the session API. */
  session?: unknown;
  config: BridgeConfig;
  pacer: Pacer;
  /** Ends the session (the bridge calls it when the backend is gone for good). */
  end: (reason: CloseReason) => void;
}

export class Bridge implements PacedStream {
  readonly model: string;
  readonly url: string;
  readonly events: OaiEvents;
  state: BridgeState = "connecting";
  private readonly o: BridgeOptions;
  private link: BackendLink | undefined;
  private readonly linkStats: BackendLinkStats[] = [];
  private channel: PeerChannel | undefined;
  private out: PeerAudio | undefined;
  private readonly decoder: OpusDecoder;
  private readonly encoder: OpusEncoder;
  private readonly input = new InputTimeline();
  private readonly playout = new Playout({ frameBytes: FRAME_BYTES });
  private reconnects = 0;
  private decodeErrors = 0;
  private failure: string | undefined;
  private eventsDropped = 0;
  private endAt = 0;
  private endReason: CloseReason = "backend";
  private disposed = false;
  /** Media flows once the peer connection is up; until then output audio waits in the queue. */
  private mediaUp = false;
  /** Events for the client before its channel opened (sent after session.created). */
  private early: Json[] | undefined = [];

  /** Picks the backend for the session's model; throws a BackendError (400) if there is none. */
  constructor(o: BridgeOptions) {
    this.o = o;
    this.model = sessionModel(o.session);
    this.url = resolveBackend(o.config.backends, this.model);
    this.events = new OaiEvents({ sessionId: o.sessionId, model: this.model, initial: o.session });
    // Only once the backend is known (the codecs hold WebAssembly memory until close()).
    this.decoder = new OpusDecoder(BACKEND_RATE);
    this.encoder = new OpusEncoder({ rate: BACKEND_RATE });
  }

  /** Connects to the backend; rejects with a BackendError (503) if it cannot. */
  async connect(): Promise<void> {
    this.link = await this.dial(false);
    if (this.state === "closed") {
      this.link.close(CLOSE.normal, "setup");
      return;
    }
    this.state = "open";
  }

  private async dial(resumed: boolean): Promise<BackendLink> {
    const link = await BackendLink.connect({
      url: this.url,
      sessionId: this.o.sessionId,
      model: this.model,
      callId: this.o.callId,
      token: this.o.config.token,
      timeoutMs: this.o.config.connectTimeoutMs,
      hello: {
        type: "session.start",
        session_id: this.o.sessionId,
        call_id: this.o.callId ?? null,
        model: this.model,
        session: this.events.session,
        audio: { format: "pcm16", sample_rate: BACKEND_RATE, channels: 1, frame_ms: FRAME_MS },
        resumed,
      },
    });
    link.setHandlers({
      onEvent: (e) => this.run(this.events.fromBackend(e)),
      onAudio: (pcm) => this.playout.push(pcm),
      onInvalid: (why) => log().debug({ session: this.o.sessionId, why }, "ignored a bad backend message"),
      onClose: (code, reason) => this.backendGone(link, code, reason),
    });
    this.linkStats.push(link.stats);
    return link;
  }

  get sessionId(): string {
    return this.o.sessionId;
  }

  /** Session.start's prepare hook: audio both ways and the oai-events channel. */
  attach(media: PeerMedia): void {
    const [audio] = media.audio();
    if (audio) {
      this.out = audio;
      audio.onRtp((rtp) => this.onRtp(rtp));
    }
    media.onConnected(() => {
      this.mediaUp = true;
    });
    media.onChannel((channel) => {
      if (channel.label !== CHANNEL_LABEL || this.channel) return;
      this.channel = channel;
      channel.onMessage((m) => this.run(this.events.fromClient(m)));
      if (channel.readyState === "open") this.channelOpen();
      else
        channel.onStateChange((s) => {
          if (s === "open") this.channelOpen();
        });
    });
    this.o.pacer.add(this);
  }

  private onRtp(rtp: InboundRtp): void {
    if (this.state === "closed") return;
    const { sequenceNumber, timestamp } = rtp.header;
    if (!this.input.accept(sequenceNumber) || rtp.payload.length === 0) return;
    let pcm: Buffer;
    try {
      pcm = this.decoder.decode(rtp.payload);
    } catch {
      this.decodeErrors++;
      pcm = SILENCE;
    }
    const now = performance.now();
    const fill = this.input.onPacket(sequenceNumber, timestamp, now, Math.round(pcm.length / FRAME_BYTES));
    for (let i = 0; i < fill; i++) this.toBackendAudio(SILENCE, now);
    this.toBackendAudio(pcm, now);
  }

  private toBackendAudio(pcm: Buffer, now: number): void {
    if (this.state === "open") this.link?.sendAudio(pcm, now);
  }

  private run(actions: Action[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "client":
          this.toClient(a.event);
          break;
        case "backend":
          if (this.state === "open") this.link?.sendEvent(a.event);
          break;
        case "clear":
          this.playoutEvent(this.playout.clear());
          break;
        case "begin":
          this.playout.begin(a.responseId);
          break;
        case "finish":
          this.playout.finish(a.responseId);
          break;
      }
    }
  }

  /** session.created first, then whatever the backend said before the channel was there. */
  private channelOpen(): void {
    const early = this.early ?? [];
    this.early = undefined;
    this.toClient(this.events.created());
    for (const e of early) this.toClient(e);
  }

  private toClient(event: Json): void {
    if (this.early) {
      if (this.early.length < EARLY_EVENTS_MAX) this.early.push(event);
      return;
    }
    const ch = this.channel;
    if (ch?.readyState !== "open") return;
    // A client that does not read (or a backend that floods) must not grow SCTP's queue without bound.
    if (ch.bufferedAmount > CHANNEL_MAX_BUFFERED) {
      this.eventsDropped++;
      return;
    }
    ch.send(JSON.stringify(event));
  }

  /** An output_audio_buffer event: to the client as the Realtime API has it, to the backend with played_ms. */
  private playoutEvent(e: PlayoutEvent): void {
    const { played_ms, ...client } = e as PlayoutEvent & { played_ms?: number };
    this.toClient(this.events.server(client));
    if (this.state === "open") this.link?.sendEvent(e);
  }

  send(tick: number): void {
    if (!this.mediaUp) return;
    const r = this.playout.tick(tick);
    if (r.sent && this.out) {
      const { frame, marker, timestamp, sequence } = r.sent;
      const payload = frame.encoded ?? this.encoder.encode(frame.pcm);
      // The sender maps our sequence/timestamp space onto its own with a fixed offset.
      this.out.writeOpus(payload, sequence, timestamp, marker);
    }
    for (const e of r.events) this.playoutEvent(e);
  }

  prepare(_tick: number, now: number): void {
    if (this.state === "closed") return;
    const next = this.playout.peek();
    if (next && !next.encoded) next.encoded = this.encoder.encode(next.pcm);
    const fill = this.input.onTick(now);
    for (let i = 0; i < fill; i++) this.toBackendAudio(SILENCE, now);
    const link = this.link;
    if (link && this.state === "open") {
      const queued = this.playout.queuedMs;
      if (queued > QUEUE_HIGH_MS) link.pause();
      else if (queued < QUEUE_LOW_MS) link.resume();
      const stall = this.o.config.stallTimeoutMs ?? 10_000;
      if (link.stalledSince > 0 && now - link.stalledSince > stall)
        this.backendGone(link, 0, `the backend has not read its audio for ${stall} ms`, "backend_stalled");
    }
    if (this.state === "ending") this.ending(now);
  }

  private backendGone(
    link: BackendLink,
    code: number,
    reason: string,
    errorCode = "backend_disconnected",
  ): void {
    if (link !== this.link || this.state === "closed" || this.state === "ending") return;
    if (errorCode === "backend_stalled") link.close(CLOSE.internal, "stalled");
    const l = log();
    if (code === CLOSE.normal) {
      // The backend hung up on purpose: the call is over.
      l.info({ session: this.o.sessionId, reason }, "backend ended the session");
      this.finish("ended");
      return;
    }
    const why = reason ? `${reason} (${code})` : `code ${code}`;
    if (this.reconnects < this.o.config.reconnect) {
      this.state = "reconnecting";
      void this.reconnect(why);
      return;
    }
    l.warn({ session: this.o.sessionId, code, reason }, "backend connection lost; ending the session");
    this.failure = errorCode;
    this.toClient(
      this.events.error("server_error", errorCode, `the voice backend connection was lost: ${why}`),
    );
    this.finish("backend");
  }

  private async reconnect(why: string): Promise<void> {
    while (this.reconnects < this.o.config.reconnect && this.state === "reconnecting") {
      const attempt = ++this.reconnects;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** (attempt - 1))));
      if (this.state !== "reconnecting") return;
      try {
        const link = await this.dial(true);
        if (this.state !== "reconnecting") {
          link.close(CLOSE.normal, "ended");
          return;
        }
        this.link = link;
        this.state = "open";
        log().info({ session: this.o.sessionId, attempt }, "backend reconnected");
        return;
      } catch {
        // next attempt
      }
    }
    if (this.state !== "reconnecting") return;
    this.failure = "backend_disconnected";
    this.toClient(
      this.events.error(
        "server_error",
        "backend_disconnected",
        `the voice backend connection was lost (${why}) and ${this.reconnects} reconnect attempts failed`,
      ),
    );
    this.finish("backend");
  }

  /**
   * A clean end, checked every tick: the last events leave the data channel, then the channel is
   * closed (the client sees it close: werift sends no DTLS close alert), then the session ends.
   */
  private ending(now: number): void {
    const ch = this.channel;
    const late = now > this.endAt;
    if (ch && ch.readyState === "open") {
      if (ch.bufferedAmount > 0 && !late) return;
      ch.close();
    }
    if (ch && ch.readyState === "closing" && !late) return;
    this.state = "closed";
    this.o.end(this.endReason);
  }

  /** Ends the session once the last events are out of the data channel (checked every tick). */
  private finish(reason: CloseReason): void {
    this.state = "ending";
    this.endReason = reason;
    this.endAt = performance.now() + END_FLUSH_MS;
    this.playout.clear();
  }

  /** The session is over (for whatever reason): let go of everything. */
  close(reason: CloseReason): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state = "closed";
    this.o.pacer.delete(this);
    this.link?.close(reason === "shutdown" ? CLOSE.goingAway : CLOSE.normal, reason);
    this.link = undefined;
    this.out = undefined;
    this.decoder.free();
    this.encoder.free();
  }

  stats(): BridgeStats {
    const sum = (k: keyof BackendLinkStats) => this.linkStats.reduce((n, s) => n + s[k], 0);
    return {
      model: this.model,
      backend: this.url,
      state: this.state,
      reconnects: this.reconnects,
      failure: this.failure,
      eventsDropped: this.eventsDropped,
      decodeErrors: this.decodeErrors,
      input: { ...this.input.stats },
      output: { ...this.playout.stats },
      link: {
        eventsIn: sum("eventsIn"),
        eventsOut: sum("eventsOut"),
        audioFramesOut: sum("audioFramesOut"),
        audioFramesDropped: sum("audioFramesDropped"),
        audioBytesIn: sum("audioBytesIn"),
        invalidIn: sum("invalidIn"),
      },
      events: { ...this.events.stats },
    };
  }
}

export { BackendError };
