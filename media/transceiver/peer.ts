/**
 * The peer connection as the transceiver sees it: our own small interface,
 * implemented over werift by werift-seam.ts (the one module that imports
 * werift). Echo, bridge and session code use only these types, so a werift
 * upgrade, or a fake peer in a unit test, touches one file.
 */

export type Addr = readonly [string, number];

/** The data channel of the Realtime API's events. */
export const EVENTS_CHANNEL = "oai-events";

/** One RTP packet from the client, decrypted (read-only: it may be echoed as it is). */
export interface InboundRtp {
  readonly header: {
    readonly ssrc: number;
    readonly payloadType: number;
    readonly sequenceNumber: number;
    readonly timestamp: number;
    readonly marker: boolean;
  };
  readonly payload: Buffer;
}

/** One audio m-line of the offer, answered sendrecv with a track of ours to send on. */
export interface PeerAudio {
  /** Each audio packet the client sends on this m-line. */
  onRtp(handler: (rtp: InboundRtp) => void): void;
  /** One Opus frame to the client, in our own sequence/timestamp space (the sender offsets both). */
  writeOpus(payload: Buffer, sequenceNumber: number, timestamp: number, marker: boolean): void;
  /** Plays a received packet back as it is (echo). */
  echo(rtp: InboundRtp): void;
}

export type ChannelState = "connecting" | "open" | "closing" | "closed";

export interface PeerChannel {
  readonly label: string;
  readonly readyState: ChannelState;
  /** Bytes queued in SCTP, not yet sent. */
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  /** Closes the channel from our side (never counted as the client closing it). */
  close(): void;
  onMessage(handler: (data: string | Buffer) => void): void;
  onStateChange(handler: (state: ChannelState) => void): void;
}

/** What echo and the bridge get before the answer is made (Session.start's prepare hook). */
export interface PeerMedia {
  /** The offer's audio m-lines (usually one), each made sendrecv. */
  audio(): PeerAudio[];
  /** Each data channel the client opens. */
  onChannel(handler: (channel: PeerChannel) => void): void;
  /** Once the peer connection is up (ICE and DTLS). */
  onConnected(handler: () => void): void;
}

/** How a client told us it left (RFC 6347/5246 alerts, RFC 4960 chunks, RFC 8831 channel close, RFC 3550 BYE). */
export const CLIENT_CLOSE_CAUSES = [
  "dtls_close_notify",
  "dtls_alert",
  "sctp_abort",
  "sctp_shutdown",
  "channel_closed",
  "rtcp_bye",
] as const;
export type ClientCloseCause = (typeof CLIENT_CLOSE_CAUSES)[number];

export interface PeerEvents {
  connected(): void;
  /** ICE or DTLS failed. */
  failed(): void;
  /** The client closed (the first sign of it; called at most once, never after our own close()). */
  clientClosed(cause: ClientCloseCause): void;
}

/** One record of the peer's statistics (the W3C getStats() shape, the fields we read). */
export interface PeerStat {
  type: string;
  kind?: string;
  packetsReceived?: number;
  packetsLost?: number;
  jitter?: number;
  roundTripTime?: number;
  fractionLost?: number;
}

/** RTP from SSRCs the offer never named (RFC 8843 routing), per worker. */
export interface UnsignalledRtpStats {
  /** SSRCs routed to an m-line by their MID header extension or as the one audio m-line. */
  ssrcsRouted: number;
  /** Packets no m-line could be found for (still dropped). */
  packetsDropped: number;
}

export interface Peer {
  readonly answerSdp: string;
  /** ICE restart: apply the client's re-offer (new ICE credentials) and answer with our new ufrag/password. */
  restart(offerSdp: string, ufrag: string, password: string): Promise<string>;
  /** Hand a datagram from the client to the peer. STUN goes through werift's STUN parser; the rest skips it. */
  deliver(data: Buffer, addr: Addr, isStun: boolean): void;
  stats(): Promise<PeerStat[]>;
  /**
   * Our end of the call: whatever is queued leaves first, then an SCTP ABORT and a DTLS
   * close_notify tell the client at once (instead of its consent checks failing 30 s later).
   */
  close(): Promise<void>;
}
