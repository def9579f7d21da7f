/**
 * The bridge of one session: WebRTC on one side (the client's Opus RTP and
 * its `oai-events` data channel), a backend WebSocket on the other (PCM16 at
 * 24 kHz and JSON events; docs/backend-protocol.md). It is attached through
 * Session.start's prepare hook and paced by the worker's one Pacer.
 */
import { createLogger, type Logger } from "../../runtime/log.ts";
import type { CloseReason } from "../close-reason.ts";
import {
  EVENTS_CHANNEL,
  type InboundRtp,
  type PeerAudio,
  type PeerChannel,
  type PeerMedia,
} from "../peer.ts";
import type { BackendLinkStats } from "./backend-client.ts";
import { BackendError, type BridgeConfig, resolveBackend, sessionModel } from "./backends.ts";
import type { BackendConnection } from "./connection.ts";
import { type InputStats, InputTimeline } from "./input.ts";
import { BridgeLifecycle, type BridgeState, CLOSE, type LifecycleAction } from "./lifecycle.ts";
import {
  type Action,
  isLiveCloseReason,
  type Json,
  type LiveCloseReason,
  OaiEvents,
  type OaiStats,
} from "./oai-events.ts";
import { FRAME_MS, OpusDecoder, OpusEncoder } from "./opus.ts";
import type { PacedStream, Pacer } from "./pacer.ts";
import { Playout, type PlayoutEvent, type PlayoutStats } from "./playout.ts";
import { type AttachOutcome, SidebandHub, type SidebandSink } from "./sideband-hub.ts";
import { BACKEND_RATE, dialBackend } from "./upstream.ts";

const FRAME_BYTES = (BACKEND_RATE / 1000) * FRAME_MS * 2;
const SILENCE = Buffer.alloc(FRAME_BYTES);
/** Stop reading the backend when this much output audio is queued; read again below the low mark. */
const QUEUE_HIGH_MS = 60_000;
const QUEUE_LOW_MS = 30_000;
/** Events to the client are dropped while this much is still waiting in the data channel. */
const CHANNEL_MAX_BUFFERED = 4 << 20;
/** Events kept for a client whose channel is not open yet. */
const EARLY_EVENTS_MAX = 512;
/** Where a client event came from: the data channel, or a sideband (its id, >= 0). */
const CHANNEL = -1;
/** For a session without sidebands (tests, benches): nothing attaches, so nothing is sent. */
const NO_SIDEBANDS: SidebandSink = { send() {}, close() {} };

let sharedLog: Logger | undefined;
const log = () => (sharedLog ??= createLogger("transceiver", { component: "bridge" }));

export type { BridgeState };

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
  /** Bytes waiting in this process for the backend's socket now (bounded: docs/bridge.md). */
  backendBufferedBytes: number;
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
  /** Where events for the call's sidebands go (the worker's link to its host). */
  sidebands?: SidebandSink;
}

export class Bridge implements PacedStream {
  readonly model: string;
  readonly url: string;
  readonly events: OaiEvents;
  readonly sidebands: SidebandHub;
  private readonly o: BridgeOptions;
  private readonly lifecycle: BridgeLifecycle;
  private link: BackendConnection | undefined;
  private readonly linkStats: BackendLinkStats[] = [];
  private channel: PeerChannel | undefined;
  private out: PeerAudio | undefined;
  private readonly decoder: OpusDecoder;
  private readonly encoder: OpusEncoder;
  private readonly input = new InputTimeline();
  private readonly playout = new Playout({ frameBytes: FRAME_BYTES });
  private decodeErrors = 0;
  private eventsDropped = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Media flows once the peer connection is up; until then output audio waits in the queue. */
  private mediaUp = false;
  private connectedAt: number | undefined;
  /** The client ended the session itself (Live's session.close). */
  private closeRequested = false;
  /** A GPT-Live upstream ended the session with this session.closed reason (e.g. expired). */
  private upstreamClosed: LiveCloseReason | undefined;
  private saidClosed = false;
  /** Events (serialized) for the client before its channel opened (sent after session.created). */
  private early: string[] | undefined = [];

  /** Picks the backend for the session's model; throws a BackendError (400) if there is none. */
  constructor(o: BridgeOptions) {
    this.o = o;
    this.model = sessionModel(o.session);
    this.url = resolveBackend(o.config.backends, this.model);
    this.events = new OaiEvents({ sessionId: o.sessionId, model: this.model, initial: o.session });
    this.sidebands = new SidebandHub(o.sidebands ?? NO_SIDEBANDS);
    this.lifecycle = new BridgeLifecycle({
      reconnect: o.config.reconnect,
      stallTimeoutMs: o.config.stallTimeoutMs ?? 10_000,
    });
    // Only once the backend is known (the codecs hold WebAssembly memory until close()).
    this.decoder = new OpusDecoder(BACKEND_RATE);
    this.encoder = new OpusEncoder({ rate: BACKEND_RATE, complexity: o.config.opusComplexity });
  }

  get state(): BridgeState {
    return this.lifecycle.state;
  }

  /** Connects to the backend; rejects with a BackendError (503) if it cannot. */
  async connect(): Promise<void> {
    const link = await this.dial(false).catch((err: unknown) => {
      this.lifecycle.connectFailed();
      throw err;
    });
    this.linkUp(link);
  }

  private linkUp(link: BackendConnection): void {
    const actions = this.lifecycle.linkUp();
    if (this.lifecycle.linked) this.link = link;
    for (const a of actions) if (a.kind === "discardLink") link.close(a.code, a.reason);
    this.perform(actions);
  }

  private async dial(resumed: boolean): Promise<BackendConnection> {
    const link = await dialBackend({
      url: this.url,
      sessionId: this.o.sessionId,
      model: this.model,
      callId: this.o.callId,
      config: this.o.config,
      session: this.events.session,
      resumed,
    });
    link.setHandlers({
      onEvent: (e) => this.run(this.events.fromBackend(e)),
      onAudio: (pcm) => this.playout.push(pcm),
      onInvalid: (why) => log().debug({ session: this.o.sessionId, why }, "ignored a bad backend message"),
      onClose: (code, reason, failure) => {
        if (link !== this.link) return;
        const l = log();
        if (code === CLOSE.normal && !failure) {
          l.info({ session: this.o.sessionId, reason }, "backend ended the session");
          if (isLiveCloseReason(reason)) this.upstreamClosed = reason;
        } else l.warn({ session: this.o.sessionId, code, reason, failure }, "backend connection lost");
        this.perform(this.lifecycle.linkLost(performance.now(), code, reason, failure));
      },
    });
    this.linkStats.push(link.stats);
    return link;
  }

  /** Carries out what the lifecycle decided. */
  private perform(actions: LifecycleAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "dial":
          this.dial(true).then(
            (link) => {
              this.linkUp(link);
              if (this.lifecycle.linked)
                log().info(
                  { session: this.o.sessionId, attempt: this.lifecycle.reconnects },
                  "backend reconnected",
                );
            },
            () => this.perform(this.lifecycle.dialFailed(performance.now())),
          );
          break;
        case "retryIn":
          this.retryTimer = setTimeout(() => this.perform(this.lifecycle.retry()), a.ms);
          break;
        case "closeLink":
          this.link?.close(a.code, a.reason);
          this.link = undefined;
          break;
        case "discardLink":
          break; // closed by linkUp, which has the new link
        case "clientError":
          this.toClient(this.events.error("server_error", a.code, a.message));
          break;
        case "stopPlayout":
          this.playout.clear();
          break;
        case "closeChannel":
          // A Live client hears why before its channel goes (the session ends right after).
          this.liveClosed(this.lifecycle.failure ? "backend" : "ended");
          this.channel?.close();
          break;
        case "endSession":
          this.o.end(a.reason);
          break;
      }
    }
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
      this.connectedAt = performance.now();
    });
    media.onChannel((channel) => {
      if (channel.label !== EVENTS_CHANNEL || this.channel) return;
      this.channel = channel;
      channel.onMessage((m) => this.run(this.events.fromClient(m), CHANNEL));
      if (channel.readyState === "open") this.channelOpen();
      else
        channel.onStateChange((s) => {
          if (s === "open") this.channelOpen();
        });
    });
    this.o.pacer.add(this);
  }

  private onRtp(rtp: InboundRtp): void {
    if (this.lifecycle.state === "closed") return;
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
    if (this.lifecycle.linked) this.link?.sendAudio(pcm, now);
  }

  private toBackend(event: Json): void {
    if (this.lifecycle.linked) this.link?.sendEvent(event);
  }

  /**
   * Carries out what OaiEvents decided. `from`: the client event's sender (the data channel or a
   * sideband), whose own errors go back to it alone; every other server event goes to all.
   */
  private run(actions: Action[], from?: number): void {
    for (const a of actions) {
      switch (a.kind) {
        case "client":
          if (from === undefined || a.event.type !== "error") this.toClient(a.event);
          else if (from === CHANNEL) this.toChannel(JSON.stringify(a.event));
          else this.sidebands.reply(from, JSON.stringify(a.event));
          break;
        case "backend":
          this.toBackend(a.event);
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
        case "close":
          this.closeRequested = true;
          this.o.end("ended");
          break;
      }
    }
  }

  /**
   * session.created first, then whatever the backend said before the channel was there. Sidebands
   * got their own session.created when they attached, and the early events as they happened.
   */
  private channelOpen(): void {
    const early = this.early ?? [];
    this.early = undefined;
    this.toChannel(JSON.stringify(this.events.created()));
    for (const e of early) this.toChannel(e);
  }

  /** A server event for the client and every sideband, serialized once. */
  private toClient(event: Json): void {
    const text = JSON.stringify(event);
    this.sidebands.fanOut(text);
    this.toChannel(text);
  }

  private toChannel(text: string): void {
    if (this.early) {
      if (this.early.length < EARLY_EVENTS_MAX) this.early.push(text);
      return;
    }
    const ch = this.channel;
    if (ch?.readyState !== "open") return;
    // A client that does not read (or a backend that floods) must not grow SCTP's queue without bound.
    if (ch.bufferedAmount > CHANNEL_MAX_BUFFERED) {
      this.eventsDropped++;
      return;
    }
    ch.send(text);
  }

  /** A sideband asks to attach: it gets the session as it is now, then every server event. */
  attachSideband(sideband: number): AttachOutcome {
    if (this.disposed) return "ended";
    return this.sidebands.attach(sideband, JSON.stringify(this.events.created()));
  }

  /** One message from a sideband: a client event, taken in the same order as the data channel's. */
  fromSideband(sideband: number, data: string | Buffer): void {
    if (this.disposed || !this.sidebands.has(sideband)) return;
    this.run(this.events.fromClient(data), sideband);
  }

  detachSideband(sideband: number): void {
    this.sidebands.detach(sideband);
  }

  /** An output_audio_buffer event: to the client as the Realtime API has it, to the backend with played_ms. */
  private playoutEvent(e: PlayoutEvent): void {
    const { played_ms, ...client } = e as PlayoutEvent & { played_ms?: number };
    this.toClient(this.events.server(client));
    this.toBackend(e);
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
    if (this.lifecycle.state === "closed") return;
    const next = this.playout.peek();
    if (next && !next.encoded) next.encoded = this.encoder.encode(next.pcm);
    const fill = this.input.onTick(now);
    for (let i = 0; i < fill; i++) this.toBackendAudio(SILENCE, now);
    const link = this.link;
    if (link && this.lifecycle.linked) {
      const queued = this.playout.queuedMs;
      if (queued > QUEUE_HIGH_MS) link.pause();
      else if (queued < QUEUE_LOW_MS) link.resume();
      if (link.stalledSince > 0) this.perform(this.lifecycle.checkStall(now, link.stalledSince));
    }
    if (this.lifecycle.state === "ending") {
      const ch = this.channel;
      this.perform(
        this.lifecycle.tick(now, ch && { state: ch.readyState, bufferedAmount: ch.bufferedAmount }),
      );
    }
  }

  /**
   * The session is over (for whatever reason): a Live client gets session.closed, the backend hears
   * it at once, then let go of everything. `clientLeft`: the client's own goodbye ended it.
   */
  close(reason: CloseReason, clientLeft = false): void {
    if (this.disposed) return;
    this.disposed = true;
    this.liveClosed(reason, clientLeft);
    // After the final events: the sidebands learn the call is over.
    this.sidebands.end(reason);
    clearTimeout(this.retryTimer);
    this.perform(this.lifecycle.close(reason));
    this.o.pacer.delete(this);
    this.out = undefined;
    this.decoder.free();
    this.encoder.free();
  }

  /** Live's last event, once: why the session ended and its usage (connected seconds). */
  private liveClosed(reason: CloseReason, clientLeft = false): void {
    if (!this.events.live || this.saidClosed) return;
    this.saidClosed = true;
    const seconds = this.connectedAt === undefined ? 0 : (performance.now() - this.connectedAt) / 1000;
    const why = this.upstreamClosed ?? liveCloseReason(reason, clientLeft, this.closeRequested);
    this.toClient(this.events.closed(why, seconds));
  }

  stats(): BridgeStats {
    const sum = (k: keyof BackendLinkStats) => this.linkStats.reduce((n, s) => n + s[k], 0);
    return {
      model: this.model,
      backend: this.url,
      state: this.lifecycle.state,
      reconnects: this.lifecycle.reconnects,
      failure: this.lifecycle.failure,
      eventsDropped: this.eventsDropped,
      decodeErrors: this.decodeErrors,
      backendBufferedBytes: this.link?.bufferedBytes ?? 0,
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

/** A session's end as Live's session.closed names it. */
export function liveCloseReason(
  reason: CloseReason,
  clientLeft: boolean,
  closeRequested: boolean,
): LiveCloseReason {
  if (closeRequested) return "close_requested";
  if (reason !== "ended") return "connection_lost";
  // "ended" without the client's goodbye: a hangup from the application's server.
  return clientLeft ? "remote_hangup" : "close_requested";
}
