/**
 * The ICE-TCP listener (RFC 6544 passive candidate): another I/O shell
 * around the same Steering as the UDP backends. Each connection's bytes go
 * through an RFC 4571 FrameDecoder; each frame is handed to
 * Steering.fromStream, exactly as a datagram from the client's address (the
 * TCP peer address) would be, and forwarded in the same encapsulation over
 * the UDP internal socket. Replies for the flow come back through the UDP
 * backend's internal socket and are framed onto the connection that owns the
 * flow (Flow.stream), or dropped when the client reads too slowly.
 *
 * Bounds (tcp-bounds.ts) are decided there and performed here: connections
 * per address and in all, a first frame that must open a flow in time,
 * framing errors, frames that take too long to arrive (one timer sweeps all
 * connections, never the data path).
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";
import type { Logger } from "../runtime/log.ts";
import { clientKeyV4 } from "../wire/encap.ts";
import { encodeFrame, FRAME_HEADER, FrameDecoder } from "../wire/tcp-frame.ts";
import type { Flow, StreamSink } from "./flow.ts";
import type { Steering } from "./steering.ts";
import {
  overdue,
  roomFor,
  TcpAdmission,
  type TcpCloseReason,
  type TcpConnectionState,
  type TcpLimits,
} from "./tcp-bounds.ts";

export interface TcpIoContext {
  steering: Steering;
  listen: Endpoint;
  limits: TcpLimits;
  /** Connections at once on this worker; beyond, new ones are closed at accept. */
  maxConnections: number;
  reusePort: boolean;
  /** Sends the flow's header and buf[off..off+len) from the internal UDP socket to `to`. */
  forward(header: Uint8Array, buf: Buffer, off: number, len: number, to: Endpoint): void;
  log: Logger;
}

export interface TcpIo {
  address: Endpoint;
  /** Connections open now. */
  connections(): number;
  /** Draining: no new connections (the open ones go on). */
  stopAccepting(): void;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

/** How long a connection closed gracefully (its last replies still queued) may take before it is cut. */
const LINGER_MS = 1000;

class TcpConnection implements StreamSink, TcpConnectionState {
  readonly socket: Socket;
  readonly address: string;
  readonly port: number;
  /** clientKeyV4 of the peer, or -1 (IPv6). */
  readonly key: number;
  readonly decoder: FrameDecoder;
  readonly acceptedAt: number;
  flow: Flow | undefined = undefined;
  closed = false;
  private readonly shell: TcpShell;

  constructor(shell: TcpShell, socket: Socket, address: string, port: number, now: number) {
    this.shell = shell;
    this.socket = socket;
    this.address = address;
    this.port = port;
    this.key = clientKeyV4(address, port);
    this.decoder = new FrameDecoder(shell.limits.maxFrame);
    this.acceptedAt = now;
  }

  get opened(): boolean {
    return this.flow !== undefined;
  }

  get partialSince(): number {
    return this.decoder.partialSince;
  }

  deliver(buf: Uint8Array, off: number, len: number): void {
    const socket = this.socket;
    if (this.closed || !roomFor(socket.writableLength, len + FRAME_HEADER, this.shell.limits)) {
      this.shell.steering.stats.tcpBackpressureDrops++;
      return;
    }
    // A copy is unavoidable: the write completes later, the receive buffer is reused at once.
    const out = Buffer.allocUnsafe(len + FRAME_HEADER);
    encodeFrame(out, buf, off, len);
    socket.write(out);
  }

  flowGone(reason: "idle" | "ended"): void {
    this.flow = undefined; // already out of the table
    this.shell.close(this, reason);
  }
}

class TcpShell {
  readonly steering: Steering;
  readonly limits: TcpLimits;
  readonly live = new Set<TcpConnection>();
  private readonly admission: TcpAdmission;
  private readonly ctx: TcpIoContext;

  constructor(ctx: TcpIoContext) {
    this.ctx = ctx;
    this.steering = ctx.steering;
    this.limits = ctx.limits;
    this.admission = new TcpAdmission(ctx.limits.maxPerAddress);
  }

  accept(socket: Socket): void {
    const stats = this.steering.stats;
    stats.tcpAccepted++;
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (address === undefined || port === undefined) {
      socket.destroy(); // gone before we looked
      stats.tcpCloses.peer++;
      return;
    }
    if (this.live.size >= this.ctx.maxConnections) {
      stats.tcpCloses["server-full"]++;
      socket.destroy();
      return;
    }
    if (!this.admission.admit(address)) {
      stats.tcpCloses["per-address"]++;
      socket.destroy();
      return;
    }
    socket.setNoDelay(true); // real-time media: no Nagle delay on replies
    const conn = new TcpConnection(this, socket, address, port, Date.now());
    this.live.add(conn);
    const onFrame = (buf: Buffer, off: number, len: number): boolean => this.frame(conn, buf, off, len);
    socket.on("data", (chunk: Buffer) => {
      if (conn.closed) return;
      const err = conn.decoder.push(chunk, Date.now(), onFrame);
      if (err) this.close(conn, err);
    });
    socket.on("end", () => this.close(conn, "peer"));
    socket.on("close", () => this.close(conn, "peer"));
    socket.on("error", () => this.close(conn, "error"));
  }

  /** One frame of `conn`: false when the connection is being closed. */
  private frame(conn: TcpConnection, buf: Buffer, off: number, len: number): boolean {
    const steering = this.steering;
    const now = Date.now();
    const v = steering.fromStream(buf, off, len, conn.key, conn.address, conn.port, conn, now);
    if (v === "forward" || v === "open" || v === "repoint") {
      if (v === "open") conn.flow = steering.flow;
      this.ctx.forward(steering.flow!.header, buf, off, len, steering.hop!);
      return true;
    }
    // The first frame must open the flow; later drops (a forged re-point) are dropped like datagrams.
    if (conn.flow === undefined) {
      this.close(conn, "first-frame");
      return false;
    }
    return !conn.closed;
  }

  /** Closes `conn` (once) and counts why; its flow goes too. */
  close(conn: TcpConnection, reason: TcpCloseReason): void {
    if (conn.closed) return;
    conn.closed = true;
    this.live.delete(conn);
    this.admission.release(conn.address);
    this.steering.stats.tcpCloses[reason]++;
    if (conn.flow) {
      this.steering.streamClosed(conn.flow);
      conn.flow = undefined;
    }
    const socket = conn.socket;
    if (reason === "ended") {
      // The session's goodbye (SCTP ABORT, DTLS close_notify) is queued: let it out, then FIN.
      socket.end();
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    } else socket.destroy();
  }

  /** Closes the connections whose deadline passed. */
  sweep(now: number): void {
    for (const conn of this.live) {
      const why = overdue(conn, now, this.limits);
      if (why) this.close(conn, why);
    }
  }
}

export async function startTcpIo(ctx: TcpIoContext): Promise<TcpIo> {
  const shell = new TcpShell(ctx);
  const server: Server = createServer({ noDelay: true }, (socket) => shell.accept(socket));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new Error(`cannot listen on TCP ${formatEndpoint(ctx.listen)}: ${err.message}`)),
    );
    server.listen(
      { host: ctx.listen.address, port: ctx.listen.port, reusePort: ctx.reusePort, exclusive: true },
      () => {
        server.removeAllListeners("error");
        resolve();
      },
    );
  });
  server.on("error", (err) => ctx.log.warn({ socket: "tcp", err: err.message }, "socket error"));
  const { limits } = ctx;
  const every = Math.max(
    50,
    Math.min(1000, Math.floor(Math.min(limits.firstFrameTimeoutMs, limits.frameTimeoutMs) / 4)),
  );
  const sweeper = setInterval(() => shell.sweep(Date.now()), every);
  sweeper.unref();
  const a = server.address();
  const address = typeof a === "object" && a ? { address: a.address, port: a.port } : { ...ctx.listen };
  let accepting = true;
  const stopAccepting = () => {
    if (!accepting) return;
    accepting = false;
    server.close();
  };
  return {
    address,
    connections: () => shell.live.size,
    stopAccepting,
    close: async () => {
      clearInterval(sweeper);
      const closed = new Promise<void>((r) => (accepting ? server.close(() => r()) : r()));
      accepting = false;
      for (const conn of [...shell.live]) shell.close(conn, "closing");
      await closed;
    },
  };
}
