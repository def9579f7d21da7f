/**
 * The ONE module that imports werift (pinned at 0.25.2). It implements our
 * peer interface (peer.ts) over a stock RTCPeerConnection; what it relies on
 * in werift's internals, and werift's bugs it works around, are in
 * docs/werift.md. Everything else in the transceiver uses peer.ts only.
 *
 * What it does to a stock RTCPeerConnection:
 * - no ICE servers, no host addresses: werift binds no socket and looks up no
 *   STUN host (its default public STUN server is cleared too);
 * - ice-lite, with the server ufrag (our routing hint) and password set after
 *   setRemoteDescription(offer) and before createAnswer();
 * - one StunProtocol whose transport is ours (the process's shared socket),
 *   advertising a synthetic host candidate: the relay ingress address (and, when the
 *   ingress has an ICE-TCP listener, a `tcptype passive` one beside it: answer-candidates.ts);
 * - DTLS server role (a=setup:passive): skips werift's fixed 100 ms client delay;
 * - ClientHellos pass the session's hello gate first (dtls-gate.ts): the cookie werift hands out
 *   and accepts is bound to the client's address, and none restarts an established association;
 * - after DTLS connects, moves the record sequence counter past the range
 *   werift's Finished-record bug reuses, and gives werift's SRTP ciphers
 *   KeyObjects instead of raw keys (4-5x cheaper per packet);
 * - keeps no history of sent RTP for retransmission unless the codec we send
 *   negotiated NACK;
 * - once connected (and for each data channel), points werift's Event methods
 *   at shared functions instead of ten closures per event (~45 kB a session);
 * - sees the client leave (DTLS alert, SCTP ABORT or SHUTDOWN, the events
 *   channel closed, RTCP BYE), which werift never reports as a state change;
 * - routes RTP from SSRCs the offer never named (rtp-routing.ts);
 * - closes with an SCTP ABORT and a DTLS close_notify (werift's close() sends no alert).
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import {
  Candidate,
  candidateFoundation,
  candidatePriority,
  MediaStreamTrack,
  type PeerConfig,
  type RTCDataChannel,
  type RTCDtlsTransport,
  RTCPeerConnection,
  type RTCRtpSender,
  RTP_EXTENSION_URI,
  RtpHeader,
  RtpPacket,
  rtpHeaderExtensionsParser,
  StunProtocol,
  Event as WeriftEvent,
} from "werift";
import { withTcpCandidate } from "./answer-candidates.ts";
import {
  alertCause,
  CLOSE_NOTIFY,
  DTLS_ALERT,
  type DtlsRecord,
  findDtlsAlert,
  readDtlsRecord,
  rtcpByeFor,
  serializeDtlsRecord,
} from "./close-signals.ts";
import type { DtlsGate } from "./dtls-gate.ts";
import { installNativeX25519 } from "./native-x25519.ts";
import {
  type Addr,
  type ChannelState,
  type ClientCloseCause,
  EVENTS_CHANNEL,
  type Peer,
  type PeerAudio,
  type PeerChannel,
  type PeerEvents,
  type PeerMedia,
  type PeerStat,
  type UnsignalledRtpStats,
} from "./peer.ts";
import { type MLine, mLineFor } from "./rtp-routing.ts";

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

export interface CreatePeerOptions {
  offerSdp: string;
  ufrag: string;
  password: string;
  /** The relay ingress address the answer advertises. */
  advertised: { address: string; port: number };
  /** The ingress's ICE-TCP listener, advertised as a passive TCP candidate at a lower priority. */
  advertisedTcp?: { address: string; port: number };
  /** Advertise only the TCP candidate (needs advertisedTcp). */
  tcpOnly?: boolean;
  transport: SeamTransport;
  events: PeerEvents;
  /** Worker-wide counters of RTP from unsignalled SSRCs. */
  unsignalled: UnsignalledRtpStats;
  /** Judges the client's ClientHellos and names the cookie werift must use. */
  dtlsGate: DtlsGate;
  /** Called before createAnswer() so the caller can set up audio and channels. */
  prepare?: (media: PeerMedia) => void;
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
    decrypt?: (data: Buffer) => Buffer;
  };
}
/** werift's DtlsSocket, as RTCDtlsTransport.dtls. */
interface DtlsSocketInternals {
  dtls: {
    recordSequenceNumber: number;
    epoch: number;
    version: { major: number; minor: number };
    /** The one cookie werift sends in its HelloVerifyRequest (when unset) and compares ClientHellos with. */
    cookie?: Buffer;
  };
  cipher: {
    encryptPacket(p: DtlsRecord): DtlsRecord;
    decryptPacket(p: DtlsRecord): Buffer;
  };
  transport: { send(data: Buffer): Promise<void> | void };
}
interface DtlsInternals {
  dtls?: DtlsSocketInternals;
}
/** SCTP chunk types (RFC 4960 §3.2; werift's chunk classes are not in its typings). */
const SCTP_ABORT = 6;
const SCTP_SHUTDOWN = 7;
interface SctpInternals {
  receiveChunk(chunk: { type: number }): Promise<void>;
  /** Retransmission timeout, seconds (werift starts at RFC 4960's 3). */
  rto: number;
}
/** RFC 9260's RTO.Initial (RFC 4960 had 3 s): our first data (the DCEP ACK, first events) is retransmitted 1 s after a loss, not 3. */
const SCTP_RTO_INITIAL_S = 1;
interface RouterInternals {
  ssrcTable: Record<number, unknown>;
  ridTable: Record<string, unknown>;
  extIdUriMap: Record<number, string>;
  routeRtp(packet: RtpPacket): void;
  registerRtpReceiver(receiver: unknown, ssrc: number): void;
}
interface ReceiverInternals {
  kind: string;
  codecs: Record<number, unknown>;
  trackBySSRC: Record<number, unknown>;
  readonly track: unknown;
}

installNativeX25519();

export const PEER_CONFIG: Partial<PeerConfig> = {
  iceServers: [],
  iceLite: true,
  iceUseIpv4: false,
  iceUseIpv6: false,
  iceCandidatePoolSize: 0,
  bundlePolicy: "max-bundle",
};

/** Record sequence number to jump to once DTLS is up (docs/werift.md, "Finished record"). */
const DTLS_SEQUENCE_FLOOR = 64;

export async function createPeer(o: CreatePeerOptions): Promise<Peer> {
  const pc = new RTCPeerConnection(PEER_CONFIG);
  // Our own close() is under way (or done): nothing werift does from then on is the client leaving.
  let closing = false;
  let leftWith: ClientCloseCause | undefined;
  const left = (cause: ClientCloseCause) => {
    if (closing || leftWith) return;
    leftWith = cause;
    o.events.clientClosed(cause);
  };
  let dtlsUp = false;
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

    const dtls = pc.dtlsTransports[0]!;
    dtls.role = "server";
    onceDtlsConnected(dtls, () => {
      dtlsUp = true;
      const ctx = (dtls as unknown as DtlsInternals).dtls?.dtls;
      if (ctx && ctx.recordSequenceNumber < DTLS_SEQUENCE_FLOOR)
        ctx.recordSequenceNumber = DTLS_SEQUENCE_FLOOR;
      useKeyObjects(dtls);
      watchRtcpBye(pc, dtls, () => left("rtcp_bye"));
    });
    // werift closes its DTLS transport on any alert it can parse, and says nothing else about it.
    dtls.onStateChange.subscribe((state) => {
      if (state === "closed") left("dtls_alert");
    });
    const sctp = pc.sctpTransport?.sctp as unknown as SctpInternals | undefined;
    if (sctp) {
      sctp.rto = SCTP_RTO_INITIAL_S;
      watchSctp(sctp, left);
    }
    routeUnsignalledRtp(pc, o.unsignalled);

    const channels = new WeakMap<RTCDataChannel, PeerChannel>();
    pc.onDataChannel.subscribe((channel) => {
      for (const v of Object.values(channel))
        if (v instanceof WeriftEvent) slimEvent(v as unknown as EventInternals);
      const ours = peerChannel(channel);
      channels.set(channel, ours);
      if (channel.label === EVENTS_CHANNEL)
        channel.stateChanged.subscribe((s) => {
          if (s === "closed" && !ours.closedHere) left("channel_closed");
        });
    });
    o.prepare?.(peerMedia(pc, channels));
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    // Most of werift's objects exist once connected; data channels come later (their own events only).
    pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") {
        slimEvents(pc);
        o.events.connected();
      } else if (state === "failed" && !closing) o.events.failed();
    });
    // What werift wrote, plus the ingress's ICE-TCP candidate (werift's own answer keeps only UDP).
    const advertise = (sdp: string, ufrag: string) =>
      withTcpCandidate(sdp, o.advertisedTcp && tcpCandidate(o.advertisedTcp, ufrag), o.tcpOnly ?? false);
    const localSdp = pc.localDescription?.sdp;
    if (!localSdp) throw new SeamError("werift produced no local description");
    const answerSdp = advertise(localSdp, o.ufrag);

    // Whether the record at data[at..] decrypts with the association's keys (an alert, once DTLS is up).
    const authentic = (data: Uint8Array, at: number) => recordDecrypts(dtls, data as Buffer, at);
    let closed: Promise<void> | undefined;
    return {
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
        return advertise(sdp, ufrag);
      },
      deliver(data, addr, isStun) {
        if (isStun) {
          internals.datagramReceived(data, addr);
          return;
        }
        // DTLS records start 20..63 (RFC 7983); the gate judges ClientHellos and alerts first.
        const first = data[0]!;
        if (first >= 20 && first <= 63) {
          if (!o.dtlsGate.admit(data, addr, dtlsUp, Date.now(), authentic)) return;
          const cookie = o.dtlsGate.cookie;
          const socket = (dtls as unknown as DtlsInternals).dtls;
          // werift keeps one cookie per association: the gate's, bound to this datagram's source.
          if (cookie && socket) socket.dtls.cookie = Buffer.from(cookie);
        }
        // werift ignores fatal alerts and cannot tell close_notify apart.
        if (first >= 20 && first <= 63 && !leftWith) {
          const cause = dtlsAlertIn(dtls, data, dtlsUp);
          if (cause) left(cause);
        }
        protocol.onDataReceived.execute(data);
      },
      async stats() {
        return [...(await pc.getStats()).values()] as PeerStat[];
      },
      close() {
        closed ??= (async () => {
          closing = true;
          // What was just queued (a last event on the channel) leaves before the ABORT.
          await new Promise((r) => setImmediate(r));
          // The SCTP ABORT first, while DTLS is up (werift's close() sends one too, then stops DTLS
          // without an alert), then our close_notify; werift's close() finds SCTP stopped already.
          await pc.sctpTransport?.stop().catch(() => {});
          if (dtlsUp && leftWith !== "dtls_close_notify" && leftWith !== "dtls_alert") sendCloseNotify(dtls);
          await pc.close().catch(() => {});
        })();
        return closed;
      },
    };
  } catch (err) {
    closing = true;
    await pc.close().catch(() => {});
    throw err;
  }
}

/** The candidate attribute of an ICE-TCP passive host candidate at `at` (RFC 6544 priority, below UDP's). */
function tcpCandidate(at: { address: string; port: number }, ufrag: string): string {
  return new Candidate(
    candidateFoundation("host", "tcp", at.address),
    1,
    "tcp",
    candidatePriority("host", { transport: "tcp", tcptype: "passive" } as never),
    at.address,
    at.port,
    "host",
    undefined,
    undefined,
    "passive",
    0,
    ufrag,
  ).toSdp();
}

function onceDtlsConnected(dtls: RTCDtlsTransport, then: () => void): void {
  const sub = dtls.onStateChange.subscribe((state) => {
    if (state !== "connected") return;
    sub.unSubscribe();
    then();
  });
}

// ---- our peer interface over werift's objects ------------------------------

function peerMedia(pc: RTCPeerConnection, channels: WeakMap<RTCDataChannel, PeerChannel>): PeerMedia {
  return {
    audio() {
      const lines: PeerAudio[] = [];
      for (const t of pc.getTransceivers()) {
        if (t.kind !== "audio") continue;
        t.setDirection("sendrecv");
        const out = new MediaStreamTrack({ kind: "audio" });
        void t.sender.replaceTrack(out);
        // werift fires onTrack during setRemoteDescription, before we get here: use the receiver's track.
        const track = t.receiver.track;
        lines.push({
          onRtp(handler) {
            track.onReceiveRtp.subscribe(handler);
          },
          writeOpus(payload, sequenceNumber, timestamp, marker) {
            // The sender rewrites SSRC and payload type, and offsets sequence and timestamp.
            out.writeRtp(
              new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber, timestamp, marker }), payload),
            );
          },
          echo(rtp) {
            out.writeRtp(rtp as RtpPacket);
          },
        });
      }
      return lines;
    },
    onChannel(handler) {
      pc.onDataChannel.subscribe((channel) => {
        const ours = channels.get(channel);
        if (ours) handler(ours);
      });
    },
    onConnected(handler) {
      pc.connectionStateChange.subscribe((s) => {
        if (s === "connected") handler();
      });
    },
  };
}

type OurChannel = PeerChannel & { closedHere: boolean };

function peerChannel(ch: RTCDataChannel): OurChannel {
  return {
    closedHere: false,
    get label() {
      return ch.label;
    },
    get readyState() {
      return ch.readyState as ChannelState;
    },
    get bufferedAmount() {
      return ch.bufferedAmount;
    },
    send(data) {
      ch.send(data);
    },
    close() {
      this.closedHere = true;
      ch.close();
    },
    onMessage(handler) {
      ch.onMessage.subscribe(handler);
    },
    onStateChange(handler) {
      ch.stateChanged.subscribe((s) => handler(s as ChannelState));
    },
  };
}

// ---- the client leaving -----------------------------------------------------

/**
 * A DTLS alert in a datagram from the client, read before werift sees it: werift throws fatal alerts
 * away (its record parser raises on them) and reads an encrypted alert's first bytes as plaintext
 * when they happen to look like one. Once DTLS is up only an alert that decrypts counts.
 */
function dtlsAlertIn(dtls: RTCDtlsTransport, data: Buffer, up: boolean): ClientCloseCause | undefined {
  for (
    let at = findDtlsAlert(data);
    at >= 0;
    at = findDtlsAlert(data, at + 13 + data.readUInt16BE(at + 11))
  ) {
    const record = readDtlsRecord(data, at);
    if (!record) return undefined;
    let body: Buffer | undefined;
    if (record.recordLayerHeader.epoch === 0) body = up ? undefined : record.fragment;
    else {
      const socket = (dtls as unknown as DtlsInternals).dtls;
      try {
        body = socket?.cipher.decryptPacket(record);
      } catch {
        body = undefined;
      }
    }
    const cause = body && alertCause(body);
    if (cause) return cause;
  }
  return undefined;
}

function recordDecrypts(dtls: RTCDtlsTransport, data: Buffer, at: number): boolean {
  const record = readDtlsRecord(data, at);
  const socket = (dtls as unknown as DtlsInternals).dtls;
  if (!record || !socket || record.recordLayerHeader.epoch === 0) return false;
  try {
    socket.cipher.decryptPacket(record);
    return true;
  } catch {
    return false;
  }
}

/** Our close_notify, in the current epoch with the next record sequence number. */
function sendCloseNotify(dtls: RTCDtlsTransport): void {
  const socket = (dtls as unknown as DtlsInternals).dtls;
  if (!socket) return;
  try {
    const record = socket.cipher.encryptPacket({
      recordLayerHeader: {
        contentType: DTLS_ALERT,
        protocolVersion: socket.dtls.version,
        epoch: socket.dtls.epoch,
        sequenceNumber: ++socket.dtls.recordSequenceNumber,
        contentLen: CLOSE_NOTIFY.length,
      },
      fragment: Buffer.from(CLOSE_NOTIFY),
    });
    void Promise.resolve(socket.transport.send(serializeDtlsRecord(record))).catch(() => {});
  } catch {
    // No cipher (DTLS never finished): nothing to say.
  }
}

/** An ABORT or SHUTDOWN chunk from the client (werift closes on ABORT and answers SHUTDOWN, telling no one). */
function watchSctp(sctp: SctpInternals, left: (cause: ClientCloseCause) => void): void {
  const receiveChunk = sctp.receiveChunk;
  sctp.receiveChunk = function (this: SctpInternals, chunk) {
    if (chunk.type === SCTP_ABORT) left("sctp_abort");
    else if (chunk.type === SCTP_SHUTDOWN) left("sctp_shutdown");
    return receiveChunk.call(this, chunk);
  };
}

/** werift's RTCP parser drops BYE packets: look for one in each decrypted SRTCP packet first. */
function watchRtcpBye(pc: RTCPeerConnection, dtls: RTCDtlsTransport, bye: () => void): void {
  const srtcp = (dtls as unknown as SrtpInternals).srtcp;
  const decrypt = srtcp?.decrypt;
  if (!srtcp || !decrypt) return;
  const router = (pc as unknown as { router: RouterInternals }).router;
  // A BYE for the client's audio (an SSRC routed to an audio receiver, signalled or learned).
  const audioSsrc = (ssrc: number) =>
    (router.ssrcTable[ssrc] as ReceiverInternals | undefined)?.kind === "audio";
  srtcp.decrypt = (data) => {
    const plain = decrypt(data);
    if (rtcpByeFor(plain, audioSsrc)) bye();
    return plain;
  };
}

// ---- RTP from unsignalled SSRCs --------------------------------------------

/**
 * werift routes RTP by signalled SSRC or RID only. The first packet of any other SSRC is routed
 * here (rtp-routing.ts) and, if an m-line is found, its SSRC is registered with that m-line's
 * receiver and track, so that later packets take werift's own path.
 */
function routeUnsignalledRtp(pc: RTCPeerConnection, stats: UnsignalledRtpStats): void {
  const router = (pc as unknown as { router: RouterInternals }).router;
  const routeRtp = router.routeRtp;
  router.routeRtp = (packet) => {
    const ssrc = packet.header.ssrc;
    if (router.ssrcTable[ssrc] === undefined && !learn(packet)) {
      stats.packetsDropped++;
      return;
    }
    routeRtp(packet);
  };
  const learn = (packet: RtpPacket): boolean => {
    const ext = rtpHeaderExtensionsParser(packet.header.extensions, router.extIdUriMap);
    // RID-routed (simulcast) streams are werift's own business.
    if (typeof ext[RTP_EXTENSION_URI.sdesRTPStreamID] === "string") return true;
    const mid = ext[RTP_EXTENSION_URI.sdesMid];
    const transceivers = pc.getTransceivers();
    const lines: MLine[] = transceivers.map((t) => {
      const receiver = t.receiver as unknown as ReceiverInternals;
      return {
        mid: t.mid ?? undefined,
        kind: t.kind,
        receives: t.direction === "sendrecv" || t.direction === "recvonly",
        payloadTypes: Object.keys(receiver.codecs).map(Number),
      };
    });
    const i = mLineFor(lines, typeof mid === "string" ? mid : undefined, packet.header.payloadType);
    if (i < 0) return false;
    const receiver = transceivers[i]!.receiver as unknown as ReceiverInternals;
    router.registerRtpReceiver(receiver, packet.header.ssrc);
    receiver.trackBySSRC[packet.header.ssrc] = receiver.track;
    stats.ssrcsRouted++;
    return true;
  };
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
export function keepRtpHistoryOnlyForNack(sender: RTCRtpSender): void {
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

/** The methods, typed by EventInternals (one declaration of each signature). */
type EventMethods = Omit<EventInternals, "event" | "ended" | "onended" | "onerror">;
type SubscribeArgs = Parameters<EventInternals["subscribe"]>;

/** Subscriber (execute, complete, error) onto `stack` (the plain or the queuing one) under the next id. */
function addSubscriber(ev: EventInternals, stack: EventItem[], ...[execute, complete, error]: SubscribeArgs) {
  const id = ev.event.eventId;
  stack.push({ execute, id, complete, error });
  ev.event.eventId++;
  return subscription(ev, id);
}

/** watch()/asPromise()'s time limit: `reject(reason)` after timeLimit ms (unset or 0: none). */
function rejectAfter(timeLimit: number | undefined, reject: (reason: string) => void, reason: string) {
  return timeLimit && setTimeout(() => reject(reason), timeLimit);
}

const EVENT_METHODS: EventMethods & ThisType<EventInternals> = {
  execute(...args: unknown[]): void {
    if (this.ended) return;
    for (const item of this.event.stack) item.execute(...args);
    if (this.event.promiseStack.length === 0) return;
    (async () => {
      for (const item of this.event.promiseStack) await item.execute(...args);
    })().catch((e: unknown) => {
      this.onerror(e);
    });
  },
  complete(): void {
    if (this.ended) return;
    for (const item of this.event.stack) if (item.complete) item.complete();
    this.allUnsubscribe();
    this.ended = true;
    if (this.onended) {
      this.onended();
      this.onended = undefined;
    }
  },
  error(e: unknown): void {
    if (this.ended) return;
    for (const item of this.event.stack) if (item.error) item.error(e);
    this.allUnsubscribe();
  },
  allUnsubscribe(): void {
    if (this.ended) return;
    this.event = { stack: [], promiseStack: [], eventId: 0 };
  },
  subscribe(execute, complete, error) {
    return addSubscriber(this, this.event.stack, execute, complete, error);
  },
  queuingSubscribe(execute, complete, error) {
    if (this.ended) throw new Error("event completed");
    // As werift has it: unsubscribing a queuing subscriber filters the other stack.
    return addSubscriber(this, this.event.promiseStack, execute, complete, error);
  },
  once(execute, complete, error) {
    const off = this.subscribe(
      (...args: unknown[]) => {
        off.unSubscribe();
        execute(...args);
      },
      complete,
      error,
    );
  },
  watch(cb: (...args: unknown[]) => unknown, timeLimit?: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timeout = rejectAfter(timeLimit, reject, "Event watch timeout");
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
  asPromise(timeLimit?: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const timeout = rejectAfter(timeLimit, reject, "Event asPromise timeout");
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
const EVENT_METHOD_NAMES = Object.keys(EVENT_METHODS) as (keyof EventMethods)[];
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
