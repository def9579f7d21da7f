/**
 * The one UDP socket of a transceiver process. Every session's packets come
 * in here (encapsulated by relays) and leave from here. Thin shell: routing
 * is the Demux's job, WebRTC is werift's.
 */
import { createSocket, type Socket } from "node:dgram";
import type { ClientFlow, Demux, DemuxSession } from "./demux.ts";

export interface MediaSession extends DemuxSession {
  /** A routed datagram (payload without the encapsulation header). */
  receive(payload: Buffer, flow: ClientFlow<MediaSession>, isStun: boolean, nominate: boolean): void;
}

export interface MediaSocketStats {
  sent: number;
  sentBytes: number;
  sendErrors: number;
}

// IP literals only: skip dns.lookup, which defers every send by a tick.
const literalLookup = (address: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) =>
  cb(null, address, address.includes(":") ? 6 : 4);

export class MediaSocket {
  readonly socket: Socket;
  readonly stats: MediaSocketStats = { sent: 0, sentBytes: 0, sendErrors: 0 };
  private closed = false;
  private readonly onSendError = (err: Error | null) => {
    if (err) this.stats.sendErrors++;
  };

  private readonly demux: Demux<MediaSession>;

  constructor(demux: Demux<MediaSession>, family: "udp4" | "udp6" = "udp4") {
    this.demux = demux;
    this.socket = createSocket({
      type: family,
      lookup: literalLookup as never,
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
    });
    this.socket.on("message", (msg, rinfo) => {
      const flow = this.demux.route(msg, rinfo.address, rinfo.port);
      if (!flow) return;
      const info = this.demux.info;
      flow.session.receive(msg.subarray(info.headerLength), flow, info.isStun, info.nominate);
    });
    // A send error on UDP (e.g. ICMP unreachable) must not kill the process.
    this.socket.on("error", () => {
      this.stats.sendErrors++;
    });
  }

  bind(host: string, port: number): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.socket.once("error", reject);
      this.socket.bind(port, host, () => {
        this.socket.off("error", reject);
        const a = this.socket.address();
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  /** Sends `data` to the client of `flow`, through the relay it came from. */
  send(flow: ClientFlow<MediaSession>, data: Buffer): void {
    // A session still saying goodbye when its host shuts down: nothing to send through.
    if (this.closed) return;
    this.stats.sent++;
    this.stats.sentBytes += data.length;
    this.socket.send([flow.header, data], flow.relayPort, flow.relayAddress, this.onSendError);
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
