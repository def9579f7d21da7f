/**
 * A transceiver worker: one process's share of a transceiver host. It owns
 * one UDP socket, the demux, and the sessions behind them. werift is single
 * threaded, so a host runs several of these (see pool.ts).
 */

import { randomBytes } from "node:crypto";
import { type HintKeyring, mintHint } from "../../shared/hint.ts";
import { formatEndpoint, isUnspecifiedIp } from "../../shared/ip.ts";
import { checkOffer } from "../../shared/offer.ts";
import type { Logger } from "../runtime/log.ts";
import type { IoBackend } from "../udp-batch/io-choice.ts";
import { DtlsCookies } from "../wire/dtls-cookie.ts";
import type { EncapKeys } from "../wire/encap-auth.ts";
import { BackendError, type BridgeConfig } from "./bridge/backends.ts";
import { Bridge } from "./bridge/bridge.ts";
import { Pacer } from "./bridge/pacer.ts";
import type { SidebandSink } from "./bridge/sideband-hub.ts";
import { BridgeLedger, type BridgeTotals } from "./bridge/totals.ts";
import type { CloseReason } from "./close-reason.ts";
import { Demux, type DemuxStats } from "./demux.ts";
import { type DtlsDrops, DtlsGate, emptyDtlsDrops } from "./dtls-gate.ts";
import { type LivenessRule, liveness } from "./liveness.ts";
import { type MediaSession, MediaSocket, type MediaSocketStats } from "./media-socket.ts";
import { CLIENT_CLOSE_CAUSES, type ClientCloseCause, type UnsignalledRtpStats } from "./peer.ts";
import { type CoarseClock, Session, type SessionInfo } from "./session.ts";
import { mintLocalSessionId } from "./session-id.ts";
import { type SessionUsage, sessionUsage } from "./usage.ts";

export interface WorkerOptions {
  index: number;
  cluster: number;
  keys: HintKeyring;
  /** Encapsulation keys, shared with the relays: only datagrams carrying a client's token get in. */
  encapKeys: EncapKeys;
  /** Where the socket binds. */
  bindHost: string;
  bindPort: number;
  /** UDP I/O of the socket (resolved: the addon is known to load for "batch"); default dgram. */
  io?: IoBackend;
  /** The address relays reach this socket at (goes into the hint); defaults to the bound address. */
  advertiseHost?: string;
  /** Default relay ingress the answers advertise. */
  ingress: { address: string; port: number };
  /** Its ICE-TCP listener, advertised beside it (a passive TCP candidate). */
  ingressTcp?: { address: string; port: number };
  capacity: number;
  silenceTimeoutMs: number;
  /** How long a session may take to connect before it is dropped; unset: the silence timeout. */
  connectTimeoutMs?: number;
  log?: Logger;
  /** Backends for sessions (bridge mode); none: every session echoes. */
  bridge?: BridgeConfig;
}

/** A sideband's attach, as the host answers it: attached, or why not (404, 409, 409). */
export type SidebandOpen = "attached" | "not-found" | "full" | "no-events";

export interface CreateSessionRequest {
  sdp: string;
  ingress?: { address: string; port: number };
  /** The named ingress's ICE-TCP listener (with ingress; without: the default's). */
  ingressTcp?: { address: string; port: number };
  /** Advertise only the TCP candidate. */
  tcpOnly?: boolean;
  session?: unknown;
  callId?: string;
}

export interface CreatedSession {
  id: string;
  sdp: string;
  ufrag: string;
  worker: number;
  ingress: string;
}

export class OfferError extends Error {}
export class CapacityError extends Error {}

export interface WorkerLoad {
  index: number;
  pid: number;
  sessions: number;
  capacity: number;
  endpoint: string;
}

/** Call quality across a worker's connected sessions (for metrics). */
export interface QualitySummary {
  sessions: number;
  rttAvg: number | undefined;
  rttMax: number | undefined;
  jitterAvg: number | undefined;
  jitterMax: number | undefined;
  packetsReceived: number;
  packetsLost: number;
}

function summarize(list: SessionInfo[]): QualitySummary {
  const rtts: number[] = [];
  const jitters: number[] = [];
  let packetsReceived = 0;
  let packetsLost = 0;
  for (const s of list) {
    const q = s.quality;
    if (!q) continue;
    if (q.roundTripTime !== undefined) rtts.push(q.roundTripTime);
    if (q.jitter !== undefined) jitters.push(q.jitter);
    packetsReceived += q.packetsReceived;
    packetsLost += q.packetsLost;
  }
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  const max = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
  return {
    sessions: list.filter((s) => s.quality).length,
    rttAvg: avg(rtts),
    rttMax: max(rtts),
    jitterAvg: avg(jitters),
    jitterMax: max(jitters),
    packetsReceived,
    packetsLost,
  };
}

export interface WorkerStats {
  demux: DemuxStats;
  socket: MediaSocketStats;
  sessionsCreated: number;
  sessionsClosed: Record<CloseReason, number>;
  /** Sessions the client ended, by how it said so. */
  clientCloses: Record<ClientCloseCause, number>;
  unsignalledRtp: UnsignalledRtpStats;
  /** DTLS ClientHellos kept from werift (dtls-gate.ts), by reason. */
  dtlsDrops: DtlsDrops;
  setupFailures: number;
  quality: QualitySummary;
  /** Bridge mode only. */
  bridge?: BridgeTotals;
}

export class SessionHost {
  readonly options: WorkerOptions;
  readonly demux: Demux<MediaSession>;
  readonly socket: MediaSocket;
  readonly sessions = new Map<string, Session>();
  readonly bridges = new Map<string, Bridge>();
  /** One timer for every bridged session's 20 ms audio ticks. */
  readonly pacer = new Pacer();
  private readonly bridgeLedger = new BridgeLedger();
  readonly clock: CoarseClock = { now: Date.now() };
  /** Where events for sidebands go: IPC to the host (worker-main.ts) or the host in this process. */
  sidebands: SidebandSink | undefined;
  /** Told once per ended session what it used (the host's metrics). */
  onUsage: ((usage: SessionUsage) => void) | undefined;
  endpoint: { address: string; port: number } | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly liveness: LivenessRule;
  private readonly counters = {
    sessionsCreated: 0,
    setupFailures: 0,
    sessionsClosed: { ended: 0, silence: 0, failed: 0, shutdown: 0, setup: 0, backend: 0 } as Record<
      CloseReason,
      number
    >,
    clientCloses: Object.fromEntries(CLIENT_CLOSE_CAUSES.map((c) => [c, 0])) as Record<
      ClientCloseCause,
      number
    >,
    unsignalledRtp: { ssrcsRouted: 0, packetsDropped: 0 } as UnsignalledRtpStats,
    dtlsDrops: emptyDtlsDrops(),
  };
  /** Address-bound DTLS cookies, under the hint keys the relays check them with. */
  private readonly cookies: DtlsCookies;

  constructor(options: WorkerOptions) {
    this.options = options;
    this.cookies = new DtlsCookies(options.keys);
    this.liveness = {
      silenceMs: options.silenceTimeoutMs,
      connectMs: options.connectTimeoutMs ?? options.silenceTimeoutMs,
    };
    this.demux = new Demux<MediaSession>(options.encapKeys);
    this.socket = new MediaSocket(this.demux, options.bindHost.includes(":") ? "udp6" : "udp4", options.io);
    // A bridged session whose audio tick threw is ended; the pacer goes on for the others.
    this.pacer.onError = (stream, err) => {
      if (!(stream instanceof Bridge)) return;
      this.options.log?.error(
        { session: stream.sessionId, err: String(err) },
        "bridge failed; ending the session",
      );
      void this.sessions.get(stream.sessionId)?.close("failed");
    };
  }

  async start(): Promise<{ address: string; port: number }> {
    const bound = await this.socket.bind(this.options.bindHost, this.options.bindPort);
    const host = this.options.advertiseHost ?? (isUnspecifiedIp(bound.address) ? "127.0.0.1" : bound.address);
    this.endpoint = { address: host, port: bound.port };
    // Coarse clock and liveness sweep: one timer instead of a Date.now() per packet.
    this.ticker = setInterval(() => this.tick(), 500);
    this.ticker.unref();
    return this.endpoint;
  }

  load(): WorkerLoad {
    const e = this.endpoint;
    return {
      index: this.options.index,
      pid: process.pid,
      sessions: this.sessions.size,
      capacity: this.options.capacity,
      endpoint: e ? `${e.address}:${e.port}` : "",
    };
  }

  async createSession(req: CreateSessionRequest): Promise<CreatedSession> {
    const check = checkOffer(req.sdp);
    if (!check.ok) throw new OfferError(check.reason);
    if (this.sessions.size >= this.options.capacity)
      throw new CapacityError("transceiver worker is at capacity");
    if (!this.endpoint) throw new Error("worker not started");
    const ufrag = mintHint(this.options.keys, { cluster: this.options.cluster, transceiver: this.endpoint });
    // 18 random bytes -> 24 ICE characters (base64 is exactly ICE's alphabet).
    const password = randomBytes(18).toString("base64");
    const id = mintLocalSessionId(this.options.index);
    const ingress = req.ingress ?? this.options.ingress;
    // A caller-named ingress comes with its own TCP listener, or none.
    const ingressTcp = req.ingress ? req.ingressTcp : (req.ingressTcp ?? this.options.ingressTcp);
    if (req.tcpOnly && !ingressTcp) throw new OfferError("tcp_only: this ingress has no ICE-TCP listener");
    // Bridge mode: the session's model picks its backend (a BackendError if none serves it).
    const bridge = this.options.bridge
      ? new Bridge({
          sessionId: id,
          callId: req.callId,
          session: req.session,
          config: this.options.bridge,
          pacer: this.pacer,
          end: (reason) => void this.sessions.get(id)?.close(reason),
          sidebands: this.sidebands,
        })
      : undefined;
    const session = new Session({
      id,
      callId: req.callId,
      ufrag,
      password,
      ingress,
      ingressTcp,
      tcpOnly: req.tcpOnly,
      socket: this.socket,
      clock: this.clock,
      unsignalled: this.counters.unsignalledRtp,
      dtlsGate: new DtlsGate(this.cookies, this.counters.dtlsDrops),
      onClose: (s, reason, cause) => this.forget(s, reason, cause),
    });
    this.sessions.set(id, session);
    this.demux.addUfrag(ufrag, session);
    let sdp: string;
    try {
      if (bridge) {
        // The backend connects while werift answers; a session without its backend is not created.
        this.bridges.set(id, bridge);
        const started = session.start(req.sdp, (media) => bridge.attach(media));
        const [answer] = await Promise.all([started, bridge.connect()]).catch(async (err: unknown) => {
          // A backend that fails first: let werift finish, so that closing the session closes its peer.
          if (err instanceof BackendError) await started.catch(() => {});
          throw err;
        });
        sdp = answer;
      } else sdp = await session.start(req.sdp);
    } catch (err) {
      this.counters.setupFailures++;
      if (err instanceof BackendError) {
        await session.close("setup");
        throw err;
      }
      await session.close("setup");
      throw new OfferError(
        `the offer could not be applied: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    this.counters.sessionsCreated++;
    this.options.log?.info(
      { session: id, call: req.callId, ufrag, ingress: formatEndpoint(ingress) },
      "session created",
    );
    return { id, sdp, ufrag, worker: this.options.index, ingress: formatEndpoint(ingress) };
  }

  /** ICE restart from a re-offer with new ICE credentials; undefined if there is no such session. */
  async restartSession(id: string, sdp: string): Promise<CreatedSession | undefined> {
    const s = this.sessions.get(id);
    if (!s || !this.endpoint) return undefined;
    const check = checkOffer(sdp);
    if (!check.ok) throw new OfferError(check.reason);
    const ufrag = mintHint(this.options.keys, { cluster: this.options.cluster, transceiver: this.endpoint });
    const password = randomBytes(18).toString("base64");
    this.demux.addUfrag(ufrag, s);
    let answer: string;
    try {
      answer = await s.restart(sdp, ufrag, password);
    } catch (err) {
      throw new OfferError(
        `the re-offer could not be applied: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    this.options.log?.info({ session: id, ufrag }, "ICE restart");
    return { id, sdp: answer, ufrag, worker: this.options.index, ingress: formatEndpoint(s.ingress) };
  }

  async endSession(id: string): Promise<boolean> {
    const s = this.sessions.get(id);
    if (!s) return false;
    await s.close("ended");
    return true;
  }

  /** A sideband attaches to a session of this worker (echo sessions have no events to share). */
  openSideband(id: string, sideband: number): SidebandOpen {
    if (!this.sessions.has(id)) return "not-found";
    const b = this.bridges.get(id);
    if (!b) return "no-events";
    const r = b.attachSideband(sideband);
    return r === "ended" ? "not-found" : r;
  }

  /** A client event from a sideband (text as it came). */
  sidebandMessage(id: string, sideband: number, text: string): void {
    this.bridges.get(id)?.fromSideband(sideband, text);
  }

  /** The sideband's socket closed (the call goes on). */
  sidebandGone(id: string, sideband: number): void {
    this.bridges.get(id)?.detachSideband(sideband);
  }

  list(): Promise<SessionInfo[]> {
    return Promise.all(
      [...this.sessions.values()].map(async (s) => {
        const info = await s.describe();
        const b = this.bridges.get(s.id);
        if (b) info.bridge = b.stats();
        return info;
      }),
    );
  }

  async stats(): Promise<WorkerStats> {
    return {
      demux: this.demux.stats,
      socket: this.socket.stats,
      sessionsCreated: this.counters.sessionsCreated,
      sessionsClosed: this.counters.sessionsClosed,
      clientCloses: this.counters.clientCloses,
      unsignalledRtp: this.counters.unsignalledRtp,
      dtlsDrops: this.counters.dtlsDrops,
      setupFailures: this.counters.setupFailures,
      quality: summarize(await this.list()),
      bridge: this.options.bridge
        ? this.bridgeLedger.totals(
            [...this.bridges.values()].map((b) => b.stats()),
            this.pacer.stats,
          )
        : undefined,
    };
  }

  private forget(s: Session, reason: CloseReason, cause?: ClientCloseCause): void {
    this.sessions.delete(s.id);
    const bridge = this.bridges.get(s.id);
    const stats = bridge?.stats();
    if (bridge) {
      bridge.close(reason, cause !== undefined);
      this.bridgeLedger.record(stats!);
      this.bridges.delete(s.id);
    }
    const usage = sessionUsage(
      reason,
      { createdAt: s.createdAt, connectedAt: s.connectedAt, endedAt: Date.now() },
      stats,
    );
    this.onUsage?.(usage);
    this.demux.removeSession(s);
    this.counters.sessionsClosed[reason]++;
    if (cause) this.counters.clientCloses[cause]++;
    this.options.log?.info(
      {
        session: s.id,
        call: s.callId,
        reason,
        cause,
        client: s.info().client,
        durationMs: Date.now() - s.createdAt,
        connected: s.connectedAt !== undefined,
        connectedSeconds: usage.connectedSeconds,
        inputAudioSeconds: usage.inputAudioSeconds,
        outputAudioSeconds: usage.outputAudioSeconds,
        packetsIn: s.packetsIn,
        packetsOut: s.packetsOut,
      },
      "session closed",
    );
  }

  private tick(): void {
    const now = Date.now();
    this.clock.now = now;
    for (const s of this.sessions.values())
      if (liveness(s.state === "connected", s.lastSeen, now, this.liveness) !== "live")
        void s.close("silence");
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    await Promise.all([...this.sessions.values()].map((s) => s.close("shutdown")));
    await this.socket.close();
  }
}
