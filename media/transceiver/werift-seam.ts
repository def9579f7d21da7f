/**
 * The ONE module that reaches into werift's internals (werift pinned at
 * 0.25.2; see ../shared/werift-notes.md and docs/transceiver.md). Everything
 * else in the transceiver uses only the functions exported here.
 *
 * What it does to a stock RTCPeerConnection:
 * - no ICE servers, no host addresses: werift binds no socket and looks up no
 *   STUN host (its default public STUN server is cleared too);
 * - ice-lite, with the server ufrag (our routing hint) and password set after
 *   setRemoteDescription(offer) and before createAnswer();
 * - one StunProtocol whose transport is ours (the process's shared socket),
 *   advertising a synthetic host candidate: the relay ingress address;
 * - DTLS server role (a=setup:passive): skips werift's fixed 100 ms client delay;
 * - after DTLS connects, moves the record sequence counter past the range
 *   werift's Finished-record bug reuses (else Chromium drops the first
 *   data-channel messages as replays and SCTP waits a full RTO), and gives
 *   werift's SRTP ciphers KeyObjects instead of raw keys (4-5x cheaper per packet);
 * - keeps no history of sent RTP for retransmission unless the codec we send
 *   negotiated NACK (werift keeps the last 128 packets per sender regardless;
 *   Opus as werift answers it negotiates no NACK, so the history was never read);
 * - once connected (and for each data channel), points werift's Event methods
 *   at shared functions instead of ten closures per event (~45 kB a session).
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import {
  Candidate,
  candidateFoundation,
  candidatePriority,
  type PeerConfig,
  type RTCDtlsTransport,
  RTCPeerConnection,
  type RTCRtpSender,
  StunProtocol,
  Event as WeriftEvent,
} from "werift";

export type Addr = readonly [string, number];

/** What werift needs from a UDP transport (werift's `Transport` interface). */
export interface SeamTransport {
  readonly type: "udp";
  readonly address: Addr;
  readonly addressFamily: 4 | 6;
  closed: boolean;
  onData: (data: Buffer, addr: Addr) => void;
  send(data: Buffer, addr: Addr): Promise<void>;
  close(): Promise<void>;
}

export interface SeamPeer {
  pc: RTCPeerConnection;
  answerSdp: string;
  /** ICE restart: apply the client's re-offer (new ICE credentials) and answer with our new ufrag/password. */
  restart(offerSdp: string, ufrag: string, password: string): Promise<string>;
  /** Hand a datagram from the client to werift. STUN goes through werift's STUN parser; the rest skips it. */
  deliver(data: Buffer, addr: Addr, isStun: boolean): void;
}

export interface CreatePeerOptions {
  offerSdp: string;
  ufrag: string;
  password: string;
  /** The relay ingress address the answer advertises. */
  advertised: { address: string; port: number };
  transport: SeamTransport;
  /** Called before createAnswer() so the caller can set up tracks and channels. */
  prepare?: (pc: RTCPeerConnection) => void;
}

// Internal fields werift has in JS but marks private (or omits) in its types.
interface ConnectionInternals {
  nominated?: unknown;
  localUsername: string;
  localPassword: string;
  stunServer: unknown;
  options: { stunServer?: unknown };
  userHistory: Record<string, string>;
  protocols: StunProtocol[];
  ensureProtocol(p: StunProtocol): void;
}
interface ProtocolInternals {
  transport: unknown;
  localIp?: string;
  datagramReceived(data: Buffer, addr: Addr): void;
}
type SrtpCipherInternals = Partial<Record<(typeof SRTP_KEY_FIELDS)[number], Buffer | KeyObject>>;
interface SrtpInternals {
  srtp?: {
    localContext?: { cipher?: SrtpCipherInternals };
    remoteContext?: { cipher?: SrtpCipherInternals };
  };
  srtcp?: {
    localContext?: { cipher?: SrtpCipherInternals };
    remoteContext?: { cipher?: SrtpCipherInternals };
  };
}
interface DtlsInternals {
  dtls?: { dtls?: { recordSequenceNumber: number } };
}

export const PEER_CONFIG: Partial<PeerConfig> = {
  iceServers: [],
  iceLite: true,
  iceUseIpv4: false,
  iceUseIpv6: false,
  iceCandidatePoolSize: 0,
  bundlePolicy: "max-bundle",
};

/** Record sequence number to jump to once DTLS is up (werift-notes: "Record sequence bug"). */
const DTLS_SEQUENCE_FLOOR = 64;

export async function createPeer(o: CreatePeerOptions): Promise<SeamPeer> {
  const pc = new RTCPeerConnection(PEER_CONFIG);
  try {
    await pc.setRemoteDescription({ type: "offer", sdp: o.offerSdp });
    const connections = pc.iceTransports.map((t) => t.connection as unknown as ConnectionInternals);
    if (connections.length !== 1)
      throw new SeamError(`expected one bundled ICE transport, got ${connections.length}`);
    const connection = connections[0]!;
    for (const t of pc.getTransceivers()) keepRtpHistoryOnlyForNack(t.sender);
    // Never look up werift's default public STUN host (no internet; and ice-lite needs none).
    connection.stunServer = undefined;
    connection.options.stunServer = undefined;
    connection.localUsername = o.ufrag;
    connection.localPassword = o.password;
    connection.userHistory[o.ufrag] = o.password;

    const protocol = new StunProtocol();
    const internals = protocol as unknown as ProtocolInternals;
    internals.transport = o.transport;
    internals.localIp = o.advertised.address;
    protocol.localCandidate = new Candidate(
      candidateFoundation("host", "udp", o.advertised.address),
      1,
      "udp",
      candidatePriority("host", { transport: "udp" } as never),
      o.advertised.address,
      o.advertised.port,
      "host",
      undefined,
      undefined,
      undefined,
      0,
      o.ufrag,
    );
    connection.ensureProtocol(protocol);
    connection.protocols.push(protocol);
    o.transport.onData = (data, addr) => internals.datagramReceived(data, addr);

    for (const dtls of pc.dtlsTransports) {
      dtls.role = "server";
      patchDtlsSequence(dtls);
    }
    o.prepare?.(pc);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    // Most of werift's objects exist once connected; data channels come later (their own events only).
    pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") slimEvents(pc);
    });
    pc.onDataChannel.subscribe((channel) => {
      for (const v of Object.values(channel))
        if (v instanceof WeriftEvent) slimEvent(v as unknown as EventInternals);
    });
    const answerSdp = pc.localDescription?.sdp;
    if (!answerSdp) throw new SeamError("werift produced no local description");

    return {
      pc,
      answerSdp,
      async restart(offer, ufrag, password) {
        // werift restarts its ICE connection when the remote credentials change (a random 4-character
        // ufrag, no STUN server cleared): set ours again before it answers. Old ufrags stay in
        // userHistory, so checks still using them are answered until the client moves on.
        await pc.setRemoteDescription({ type: "offer", sdp: offer });
        connection.stunServer = undefined;
        connection.options.stunServer = undefined;
        connection.localUsername = ufrag;
        connection.localPassword = password;
        connection.userHistory[ufrag] = password;
        if (protocol.localCandidate) protocol.localCandidate.ufrag = ufrag;
        await pc.setLocalDescription(await pc.createAnswer());
        // werift's connect() skips ICE when DTLS is already up, so a restarted ICE agent would never
        // process the client's new checks (no nominated pair, nothing sent): start it ourselves.
        if (!connection.nominated) for (const t of pc.iceTransports) void t.start().catch(() => {});
        const sdp = pc.localDescription?.sdp;
        if (!sdp) throw new SeamError("werift produced no local description");
        return sdp;
      },
      deliver(data, addr, isStun) {
        if (isStun) internals.datagramReceived(data, addr);
        else protocol.onDataReceived.execute(data);
      },
    };
  } catch (err) {
    await pc.close().catch(() => {});
    throw err;
  }
}

function patchDtlsSequence(dtls: RTCDtlsTransport): void {
  const sub = dtls.onStateChange.subscribe((state) => {
    if (state !== "connected") return;
    const ctx = (dtls as unknown as DtlsInternals).dtls?.dtls;
    if (ctx && ctx.recordSequenceNumber < DTLS_SEQUENCE_FLOOR) ctx.recordSequenceNumber = DTLS_SEQUENCE_FLOOR;
    useKeyObjects(dtls);
    sub.unSubscribe();
  });
}

/**
 * The same SRTP key swap for any werift peer (e.g. the load-generating clients
 * of tests and benchmarks), applied when each DTLS transport connects.
 */
export function useKeyObjectsFor(pc: RTCPeerConnection): void {
  for (const dtls of pc.dtlsTransports) {
    const sub = dtls.onStateChange.subscribe((state) => {
      if (state !== "connected") return;
      useKeyObjects(dtls);
      sub.unSubscribe();
    });
  }
}

const SRTP_KEY_FIELDS = [
  "srtpSessionKey",
  "srtcpSessionKey",
  "srtpSessionAuthTag",
  "srtcpSessionAuthTag",
] as const;

/**
 * werift calls createCipheriv/createHmac per packet with raw Buffer keys; on
 * Node 24 a Buffer key costs 4-5x more per call than a KeyObject (about 12 us
 * vs 3 us), which made it the largest single cost of relaying audio. The
 * SRTP keys never change for a DTLS association, so swap in KeyObjects once
 * SRTP has started (it starts just before "connected").
 */
function useKeyObjects(dtls: RTCDtlsTransport): void {
  const t = dtls as unknown as SrtpInternals;
  for (const session of [t.srtp, t.srtcp]) {
    for (const context of [session?.localContext, session?.remoteContext]) {
      const cipher = context?.cipher;
      if (!cipher) continue;
      for (const field of SRTP_KEY_FIELDS) {
        const key = cipher[field];
        if (Buffer.isBuffer(key)) cipher[field] = createSecretKey(key);
      }
    }
  }
}

/** What a sender's `rtpCache` (werift's NACK history, indexed by sequence number) becomes without NACK. */
const NO_RTP_HISTORY: unknown[] = new Proxy([], { set: () => true });

interface SenderInternals {
  rtpCache: unknown[];
  prepareSend(params: unknown): void;
  scheduleRtpContinuity(timestampStep?: number): void;
}

/**
 * werift's RTCRtpSender keeps each sent packet (a clone) in a 128-entry ring,
 * `rtpCache`, to answer NACKs, whatever was negotiated. Each entry lives 128
 * packets (2.6 s of 20 ms audio): about 70 kB per session, all of it promoted
 * to the old generation and collected there. A client only NACKs what was
 * negotiated, and werift answers Opus without `nack` feedback: the ring was
 * never read. So while the sender's codec has no NACK the ring is a sink that
 * drops writes (reads find nothing, as a NACK for an evicted packet does),
 * set again wherever werift replaces the ring (negotiation, track or source
 * changes). Two own methods, not an accessor: an accessor would turn the
 * sender into a dictionary-mode object, bigger and slower on every packet.
 */
function keepRtpHistoryOnlyForNack(sender: RTCRtpSender): void {
  const s = sender as unknown as SenderInternals;
  const { prepareSend, scheduleRtpContinuity } = s;
  const choose = () => {
    if (!nackNegotiated(sender)) s.rtpCache = NO_RTP_HISTORY;
    else if (s.rtpCache === NO_RTP_HISTORY) s.rtpCache = [];
  };
  s.prepareSend = function (this: SenderInternals, params) {
    prepareSend.call(this, params);
    choose();
  };
  s.scheduleRtpContinuity = function (this: SenderInternals, timestampStep) {
    scheduleRtpContinuity.call(this, timestampStep);
    choose();
  };
  choose();
}

function nackNegotiated(sender: RTCRtpSender): boolean {
  const feedback = sender.codec?.rtcpFeedback;
  if (!feedback) return false;
  for (const f of feedback) if (f.type === "nack" && !f.parameter) return true;
  return false;
}

// ---- werift's Event, slimmed ----------------------------------------------

interface EventItem {
  execute: (...args: unknown[]) => unknown;
  id: number;
  complete?: () => void;
  error?: (e: unknown) => void;
}
/** werift's EventDisposer, or anything else with push(). */
interface Disposer {
  push(unSubscribe: () => void): void;
}
interface EventInternals {
  event: { stack: EventItem[]; promiseStack: EventItem[]; eventId: number };
  ended: boolean;
  onended?: () => void;
  onerror: (e: unknown) => void;
  execute(...args: unknown[]): void;
  complete(): void;
  error(e: unknown): void;
  allUnsubscribe(): void;
  subscribe(
    execute: EventItem["execute"],
    complete?: EventItem["complete"],
    error?: EventItem["error"],
  ): { unSubscribe: () => void; disposer: (d: Disposer) => void };
  queuingSubscribe: EventInternals["subscribe"];
  once(execute: EventItem["execute"], complete?: EventItem["complete"], error?: EventItem["error"]): void;
  watch(cb: (...args: unknown[]) => unknown, timeLimit?: number): Promise<unknown[]>;
  asPromise(timeLimit?: number): Promise<unknown[]>;
}

/**
 * werift's Event (its rx.mini) defines its ten methods as arrow-function
 * class fields: every instance carries ten closures and their context, about
 * 600 of its 840 bytes, and a session has some 75 of them (every
 * onX/xChanged of the peer connection, transceivers, tracks, ICE, DTLS, SCTP,
 * data channels): some 45 kB per session. These are the same methods,
 * written once, with `this` instead of the captured instance; werift always
 * calls them as methods (`ev.execute(...)`, never detached), and so does
 * this project. One difference: execute() skips the async loop over
 * queuing subscribers when there are none (werift starts one per call,
 * which only allocates a promise; nothing observable runs in it).
 */
/** What werift's subscribe() returns: unsubscribe subscriber `id` now, or when a disposer says so. */
function subscription(ev: EventInternals, id: number) {
  const unSubscribe = () => {
    ev.event.stack = ev.event.stack.filter((item) => item.id !== id && item);
  };
  const disposer = (d: Disposer) => {
    d.push(unSubscribe);
  };
  return { unSubscribe, disposer };
}

const EVENT_METHODS = {
  execute(this: EventInternals, ...args: unknown[]): void {
    if (this.ended) return;
    for (const item of this.event.stack) item.execute(...args);
    if (this.event.promiseStack.length === 0) return;
    (async () => {
      for (const item of this.event.promiseStack) await item.execute(...args);
    })().catch((e: unknown) => {
      this.onerror(e);
    });
  },
  complete(this: EventInternals): void {
    if (this.ended) return;
    for (const item of this.event.stack) if (item.complete) item.complete();
    this.allUnsubscribe();
    this.ended = true;
    if (this.onended) {
      this.onended();
      this.onended = undefined;
    }
  },
  error(this: EventInternals, e: unknown): void {
    if (this.ended) return;
    for (const item of this.event.stack) if (item.error) item.error(e);
    this.allUnsubscribe();
  },
  allUnsubscribe(this: EventInternals): void {
    if (this.ended) return;
    this.event = { stack: [], promiseStack: [], eventId: 0 };
  },
  subscribe(
    this: EventInternals,
    execute: EventItem["execute"],
    complete?: EventItem["complete"],
    error?: EventItem["error"],
  ) {
    const id = this.event.eventId;
    this.event.stack.push({ execute, id, complete, error });
    this.event.eventId++;
    return subscription(this, id);
  },
  queuingSubscribe(
    this: EventInternals,
    execute: EventItem["execute"],
    complete?: EventItem["complete"],
    error?: EventItem["error"],
  ) {
    if (this.ended) throw new Error("event completed");
    const id = this.event.eventId;
    this.event.promiseStack.push({ execute, id, complete, error });
    this.event.eventId++;
    // As werift has it: unsubscribing a queuing subscriber filters the other stack.
    return subscription(this, id);
  },
  once(
    this: EventInternals,
    execute: EventItem["execute"],
    complete?: EventItem["complete"],
    error?: EventItem["error"],
  ): void {
    const off = this.subscribe(
      (...args: unknown[]) => {
        off.unSubscribe();
        execute(...args);
      },
      complete,
      error,
    );
  },
  watch(this: EventInternals, cb: (...args: unknown[]) => unknown, timeLimit?: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timeout =
        timeLimit &&
        setTimeout(() => {
          reject("Event watch timeout");
        }, timeLimit);
      const { unSubscribe } = this.subscribe((...args: unknown[]) => {
        const done = cb(...args);
        if (done) {
          if (timeout) clearTimeout(timeout);
          unSubscribe();
          resolve(args);
        }
      });
    });
  },
  asPromise(this: EventInternals, timeLimit?: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timeout =
        timeLimit &&
        setTimeout(() => {
          reject("Event asPromise timeout");
        }, timeLimit);
      this.once(
        (...args: unknown[]) => {
          if (timeout) clearTimeout(timeout);
          resolve(args);
        },
        () => {
          if (timeout) clearTimeout(timeout);
          resolve([]);
        },
        (err: unknown) => {
          if (timeout) clearTimeout(timeout);
          reject(err);
        },
      );
    });
  },
};
const EVENT_METHOD_NAMES = Object.keys(EVENT_METHODS) as (keyof typeof EVENT_METHODS)[];
const noError = (_e: unknown) => {};
/** Source text of werift's default `onerror` (an empty arrow): replaced only while still the default. */
const DEFAULT_ONERROR = String(new WeriftEvent().onerror);
function slimEvent(ev: EventInternals): void {
  if (ev.execute === EVENT_METHODS.execute) return;
  const target = ev as unknown as Record<string, unknown>;
  for (const name of EVENT_METHOD_NAMES) if (Object.hasOwn(ev, name)) target[name] = EVENT_METHODS[name];
  if (String(ev.onerror) === DEFAULT_ONERROR) ev.onerror = noError;
}

/** Objects the walk never enters: buffers, and Node objects that link to the rest of the process. */
const OPAQUE = new Set([
  "Timeout",
  "Immediate",
  "TimersList",
  "Socket",
  "Promise",
  "AbortController",
  "AbortSignal",
]);
const WALK_BUDGET = 5000;

/**
 * Slims every werift Event reachable from `root` through own properties,
 * arrays, Maps and Sets (about 500 objects and 0.2 ms for a connected peer).
 */
export function slimEvents(root: object): void {
  const seen = new Set<object>();
  const todo: object[] = [root];
  let budget = WALK_BUDGET;
  const visit = (v: unknown) => {
    if (typeof v !== "object" || v === null || seen.has(v)) return;
    seen.add(v);
    if (v instanceof WeriftEvent) slimEvent(v as unknown as EventInternals);
    else if (!ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer) && !OPAQUE.has(v.constructor?.name))
      todo.push(v);
  };
  while (todo.length > 0 && budget-- > 0) {
    const o = todo.pop()!;
    if (Array.isArray(o) || o instanceof Set) for (const v of o) visit(v);
    else if (o instanceof Map) for (const v of o.values()) visit(v);
    else for (const k of Object.keys(o)) visit((o as Record<string, unknown>)[k]);
  }
}

export class SeamError extends Error {}
