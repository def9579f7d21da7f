/**
 * One WebRTC session: a werift peer behind the process's shared socket. The
 * session owns its ufrags (the current one and those before an ICE restart),
 * the client flows the demux bound to it, and its liveness (ice-lite sends no
 * consent checks, so silence is judged from incoming traffic).
 */

import { formatEndpoint } from "../../shared/ip.ts";
import { FLOW_END } from "../wire/flow-end.ts";
import { AddressLatch } from "./address-latch.ts";
import type { BridgeStats } from "./bridge/bridge.ts";
import { CheckReplay } from "./check-replay.ts";
import type { CloseReason } from "./close-reason.ts";
import type { ClientFlow } from "./demux.ts";
import type { DtlsGate } from "./dtls-gate.ts";
import { attachEcho, type EchoStats } from "./echo.ts";
import type { MediaSession, MediaSocket } from "./media-socket.ts";
import type { Addr, ClientCloseCause, Peer, PeerMedia, UnsignalledRtpStats } from "./peer.ts";
import { type Quality, readQuality } from "./quality.ts";
import { createPeer, type SeamTransport } from "./werift-seam.ts";

export type SessionState = "connecting" | "connected" | "closed";

export interface CoarseClock {
  now: number;
}

export interface SessionInfo {
  id: string;
  state: SessionState;
  ufrag: string;
  createdAt: number;
  connectedAt?: number;
  lastSeen: number;
  client?: string;
  ingress: string;
  packetsIn: number;
  packetsOut: number;
  echo: EchoStats;
  /** From RTCP (connected sessions only). */
  quality?: Quality;
  /** Bridge mode (a backend instead of echo). */
  bridge?: BridgeStats;
}

const RESOLVED = Promise.resolve();
type Flow = ClientFlow<MediaSession>;

export interface SessionOptions {
  id: string;
  /** The edge's call id, for logs. */
  callId?: string;
  ufrag: string;
  password: string;
  ingress: { address: string; port: number };
  /** The ingress's ICE-TCP listener, advertised beside it; tcpOnly: instead of the UDP candidate. */
  ingressTcp?: { address: string; port: number };
  tcpOnly?: boolean;
  socket: MediaSocket;
  clock: CoarseClock;
  /** Worker-wide counters of RTP from SSRCs no offer named. */
  unsignalled: UnsignalledRtpStats;
  /** The session's DTLS ClientHello gate (address-bound cookies, no renegotiation). */
  dtlsGate: DtlsGate;
  /** `cause`: how the client said it left, when it did. */
  onClose: (s: Session, reason: CloseReason, cause?: ClientCloseCause) => void;
}

export class Session implements MediaSession {
  readonly id: string;
  readonly callId: string | undefined;
  readonly ingress: { address: string; port: number };
  private readonly ingressTcp: { address: string; port: number } | undefined;
  private readonly tcpOnly: boolean;
  readonly createdAt: number;
  state: SessionState = "connecting";
  connectedAt: number | undefined;
  lastSeen: number;
  packetsIn = 0;
  packetsOut = 0;
  readonly echo: EchoStats = { rtpIn: 0, rtpOut: 0, messages: 0 };
  /** ufrag -> password; older ufrags stay routable until the session ends. */
  readonly ufrags = new Map<string, string>();
  currentUfrag: string;
  /** Which client address DTLS/SRTP and STUN answers go to. */
  readonly latch = new AddressLatch<Flow>();
  readonly checks = new CheckReplay();
  private peer: Peer | undefined;
  private readonly unsignalled: UnsignalledRtpStats;
  private readonly dtlsGate: DtlsGate;
  private readonly socket: MediaSocket;
  private readonly clock: CoarseClock;
  private readonly onClose: SessionOptions["onClose"];
  readonly transport: SeamTransport;
  /** Resolves when the peer connection reaches "connected" (rejects if it closes first). */
  readonly connected: Promise<void>;
  private resolveConnected!: () => void;
  private rejectConnected!: (e: Error) => void;

  constructor(o: SessionOptions) {
    this.id = o.id;
    this.callId = o.callId;
    this.ingress = o.ingress;
    this.ingressTcp = o.ingressTcp;
    this.tcpOnly = o.tcpOnly ?? false;
    this.socket = o.socket;
    this.clock = o.clock;
    this.onClose = o.onClose;
    this.unsignalled = o.unsignalled;
    this.dtlsGate = o.dtlsGate;
    this.createdAt = Date.now();
    this.lastSeen = o.clock.now;
    this.currentUfrag = o.ufrag;
    this.ufrags.set(o.ufrag, o.password);
    this.connected = new Promise((resolve, reject) => {
      this.resolveConnected = resolve;
      this.rejectConnected = reject;
    });
    this.connected.catch(() => {});
    const session = this;
    this.transport = {
      type: "udp",
      address: [o.ingress.address, o.ingress.port],
      addressFamily: o.ingress.address.includes(":") ? 6 : 4,
      closed: false,
      onData: () => {},
      send(data: Buffer, addr: Addr): Promise<void> {
        session.sendTo(data, addr);
        return RESOLVED;
      },
      close(): Promise<void> {
        this.closed = true;
        return RESOLVED;
      },
    };
  }

  /** Creates the werift peer from the offer; returns the answer SDP. */
  async start(offerSdp: string, prepare?: (media: PeerMedia) => void): Promise<string> {
    this.peer = await createPeer({
      offerSdp,
      ufrag: this.currentUfrag,
      password: this.ufrags.get(this.currentUfrag)!,
      advertised: this.ingress,
      advertisedTcp: this.ingressTcp,
      tcpOnly: this.tcpOnly,
      transport: this.transport,
      unsignalled: this.unsignalled,
      dtlsGate: this.dtlsGate,
      prepare: (media) => {
        if (prepare) prepare(media);
        else attachEcho(media, this.echo);
      },
      events: {
        connected: () => {
          if (this.state !== "connecting") return;
          this.state = "connected";
          this.connectedAt = Date.now();
          this.resolveConnected();
        },
        failed: () => void this.close("failed"),
        clientClosed: (cause) => void this.close("ended", cause),
      },
    });
    return this.peer.answerSdp;
  }

  /** ICE restart: a new ufrag (routing hint) and password; the old ones stay routable until the session ends. */
  async restart(offerSdp: string, ufrag: string, password: string): Promise<string> {
    if (!this.peer || this.state === "closed") throw new Error("the session is not running");
    this.ufrags.set(ufrag, password);
    this.currentUfrag = ufrag;
    return this.peer.restart(offerSdp, ufrag, password);
  }

  passwordFor(ufrag: string): string | undefined {
    return this.ufrags.get(ufrag);
  }

  receive(payload: Buffer, flow: Flow, isStun: boolean, nominate: boolean): void {
    if (this.state === "closed" || !this.peer) return;
    this.lastSeen = this.clock.now;
    this.packetsIn++;
    this.latch.heard(flow, isStun, nominate);
    this.peer.deliver(payload, flow.addr, isStun);
  }

  private sendTo(data: Buffer, addr: Addr): void {
    // Not `state`: a closing session still sends its goodbye (SCTP ABORT, close_notify).
    if (this.transport.closed) return;
    const flow = this.latch.target(data[0]!, addr);
    if (!flow) return;
    this.packetsOut++;
    this.socket.send(flow, data);
  }

  info(): SessionInfo {
    const a = this.latch.active?.addr;
    return {
      id: this.id,
      state: this.state,
      ufrag: this.currentUfrag,
      createdAt: this.createdAt,
      connectedAt: this.connectedAt,
      lastSeen: this.lastSeen,
      client: a ? formatEndpoint({ address: a[0], port: a[1] }) : undefined,
      ingress: formatEndpoint(this.ingress),
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      echo: { ...this.echo },
    };
  }

  /** info() plus call quality from RTCP. */
  async describe(): Promise<SessionInfo> {
    const info = this.info();
    if (this.state === "connected" && this.peer)
      info.quality = await this.peer
        .stats()
        .then(readQuality)
        .catch(() => undefined);
    return info;
  }

  /**
   * Ends the session: it leaves the listing at once, the peer tells the client (SCTP ABORT, DTLS
   * close_notify), and only then does the transport stop sending.
   */
  async close(reason: CloseReason, cause?: ClientCloseCause): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    this.rejectConnected(new Error(`session ${this.id} closed (${reason}) before connecting`));
    this.onClose(this, reason, cause);
    await this.peer?.close().catch(() => {});
    // Last, the relays on the path drop the flow and its shared record now rather than when it idles out
    // (werift's close() has closed the transport it was given by now: straight to the socket).
    const flow = this.latch.active;
    if (flow) this.socket.send(flow, FLOW_END);
    this.transport.closed = true;
  }
}
