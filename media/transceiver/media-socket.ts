/**
 * The one UDP socket of a transceiver process. Every session's packets come
 * in here (encapsulated by relays) and leave from here. Thin shell: routing
 * is the Demux's job, WebRTC is werift's.
 *
 * Batched I/O (the udp-batch addon: recvmmsg, sendmmsg) when it is built,
 * node:dgram otherwise. With the addon, a received batch is routed datagram
 * by datagram and whatever the sessions send meanwhile (echo, RTCP, DTLS)
 * goes out with one sendmmsg at its end; sends from timers (the bridge's
 * pacer, consent checks) are queued and flushed once per loop turn.
 */
import { createSocket, type Socket } from "node:dgram";
import { BATCH, BatchSocket, formatMetaV6, loadUdpBatch, META_STRIDE } from "../udp-batch/batch-socket.ts";
import type { IoBackend } from "../udp-batch/io-choice.ts";
import { formatKeyV4 } from "../wire/encap.ts";
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

/** Send slab: a full one is flushed early (a batch of 64 audio datagrams takes ~10 kB). */
const OUT_BYTES = 256 << 10;

/** Relay addresses seen, as strings (the demux keys flows' paths by them); bounded against spoofed sources. */
const ADDRESS_CACHE_MAX = 1024;

export class MediaSocket {
  readonly stats: MediaSocketStats = { sent: 0, sentBytes: 0, sendErrors: 0 };
  private closed = false;
  private readonly demux: Demux<MediaSession>;
  private readonly family: "udp4" | "udp6";
  private readonly io: IoBackend;
  private dgram: Socket | undefined;
  private batch: BatchSocket | undefined;
  /** Send slab of the batch socket: queued datagrams (header + payload) until the next flush. */
  private readonly out = Buffer.allocUnsafeSlow(OUT_BYTES);
  private outUsed = 0;
  private inBatch = false;
  private flushScheduled = false;
  private readonly addresses = new Map<number, string>();
  private readonly flushNow = () => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly onSendError = (err: Error | null) => {
    if (err) this.stats.sendErrors++;
  };

  constructor(demux: Demux<MediaSession>, family: "udp4" | "udp6" = "udp4", io: IoBackend = "dgram") {
    this.demux = demux;
    this.family = family;
    this.io = io;
  }

  bind(host: string, port: number): Promise<{ address: string; port: number }> {
    if (this.io === "batch") {
      const native = loadUdpBatch();
      if (native instanceof Error) return Promise.reject(native);
      try {
        this.batch = new BatchSocket(
          native,
          { address: host, port },
          {
            bufferBytes: 4 << 20,
            reusePort: false,
            onBatch: (n) => this.onBatch(n),
            // A datagram costs a session ~100 µs here (SRTP, the codec): a burst of 8 batches would
            // hold the bridge's pacer ~50 ms; one batch per turn lets its timer run in between.
            batchesPerEvent: 1,
          },
        );
        this.batch.sendBuffers([this.out.buffer as ArrayBuffer]);
        return Promise.resolve(this.batch.address());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.bindDgram(host, port);
  }

  private bindDgram(host: string, port: number): Promise<{ address: string; port: number }> {
    const socket = createSocket({
      type: this.family,
      lookup: literalLookup as never,
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
    });
    this.dgram = socket;
    socket.on("message", (msg, rinfo) => this.deliver(msg, rinfo.address, rinfo.port));
    // A send error on UDP (e.g. ICMP unreachable) must not kill the process.
    socket.on("error", () => {
      this.stats.sendErrors++;
    });
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, host, () => {
        socket.off("error", reject);
        const a = socket.address();
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private deliver(msg: Buffer, address: string, port: number): void {
    const flow = this.demux.route(msg, address, port);
    if (!flow) return;
    const info = this.demux.info;
    flow.session.receive(msg.subarray(info.headerLength), flow, info.isStun, info.nominate);
  }

  private onBatch(n: number): void {
    const b = this.batch!;
    const m = b.meta;
    this.inBatch = true;
    for (let i = 0; i < n; i++) {
      const j = i * META_STRIDE;
      const off = m[j]!;
      const len = m[j + 1]!;
      const port = m[j + 3]!;
      const address = m[j + 2] === 4 ? this.v4Address(m[j + 4]! >>> 0) : formatMetaV6(m, j);
      // The receive slab is reused by the next batch, and werift may keep what it is given: a copy.
      const msg = Buffer.allocUnsafe(len);
      msg.set(b.bytes.subarray(off, off + len));
      this.deliver(msg, address, port);
    }
    this.inBatch = false;
    this.flush();
  }

  private v4Address(ip: number): string {
    let s = this.addresses.get(ip);
    if (s === undefined) {
      if (this.addresses.size >= ADDRESS_CACHE_MAX) this.addresses.clear();
      s = formatKeyV4(ip * 65536);
      this.addresses.set(ip, s);
    }
    return s;
  }

  /** Sends `data` to the client of `flow`, through the relay it came from. */
  send(flow: ClientFlow<MediaSession>, data: Buffer): void {
    // A session still saying goodbye when its host shuts down: nothing to send through.
    if (this.closed) return;
    this.stats.sent++;
    this.stats.sentBytes += data.length;
    const b = this.batch;
    if (b === undefined) {
      this.dgram!.send([flow.header, data], flow.relayPort, flow.relayAddress, this.onSendError);
      return;
    }
    const h = flow.header.length;
    const len = h + data.length;
    if (len > OUT_BYTES) {
      this.stats.sendErrors++;
      return;
    }
    if (this.outUsed + len > this.out.length || b.queuedCount === BATCH) this.flush();
    const at = this.outUsed;
    this.out.set(flow.header, at);
    this.out.set(data, at + h);
    this.outUsed += len;
    b.queueToAddress(0, at, len, flow.relayAddress, flow.relayPort);
    if (!this.inBatch && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  private flush(): void {
    const b = this.batch;
    if (b === undefined) return;
    const before = b.sendFailures;
    b.flush();
    this.stats.sendErrors += b.sendFailures - before;
    this.outUsed = 0;
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.batch) {
      this.flush();
      this.batch.close();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.dgram!.close(() => resolve()));
  }
}
