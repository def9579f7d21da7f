/**
 * The impairer's TCP shell: per accepted client connection one upstream
 * connection to the target (an ingress's ICE-TCP port), RFC 4571 frames in
 * each direction put through the direction's `Link` by a `FramedLink`. Frames
 * wait in one `Departures`; a connection's frames leave in order (the links
 * keep departures monotonic; reordering is off for TCP). `reset()` tears a
 * connection down both ways (a TCP RST), as a middlebox losing its state does.
 * A slow reader does not make the proxy buffer without bound: beyond
 * `maxBufferedBytes` queued on a socket, frames are dropped whole and counted
 * (real-time audio; the relay's TCP backpressure does the same).
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";
import type { Logger } from "../runtime/log.ts";
import { Departures } from "./departures.ts";
import { FramedLink } from "./framed-link.ts";
import type { Link } from "./link.ts";

export interface TcpProxyStats {
  connections: number;
  accepted: number;
  resets: number;
  /** Connections closed for a zero-length or oversize frame. */
  badFrames: number;
  /** Frames dropped because their socket had maxBufferedBytes queued already (a slow reader), per direction. */
  backpressureDrops: { up: number; down: number };
  /** The most bytes ever queued on one socket after a write. */
  peakBufferedBytes: number;
}

/** As the relay's ICE-TCP default (media/relay/tcp-bounds.ts): a connection carries one call, so about 1 s of its audio. */
export const DEFAULT_TCP_MAX_BUFFERED = 16 * 1024;

export interface TcpProxy {
  address: Endpoint;
  readonly stats: TcpProxyStats;
  /** Client connections ("ip:port"). */
  connections(): string[];
  /** Resets one client's connection (both sides), or every one; returns those reset. */
  reset(client?: string): string[];
  close(): Promise<void>;
}

interface Conn {
  key: string;
  client: Socket;
  upstream: Socket;
  closed: boolean;
}

interface Outgoing {
  to: Socket;
  up: boolean;
  conn: Conn;
  frame: Buffer;
}

export async function startTcpProxy(o: {
  listen: Endpoint;
  target: Endpoint;
  up: Link;
  down: Link;
  /** Bytes queued on a socket beyond which frames toward it are dropped. */
  maxBufferedBytes?: number;
  log?: Logger;
}): Promise<TcpProxy> {
  const stats: TcpProxyStats = {
    connections: 0,
    accepted: 0,
    resets: 0,
    badFrames: 0,
    backpressureDrops: { up: 0, down: 0 },
    peakBufferedBytes: 0,
  };
  const maxBuffered = o.maxBufferedBytes ?? DEFAULT_TCP_MAX_BUFFERED;
  const conns = new Map<string, Conn>();
  const departures = new Departures<Outgoing>(({ to, up, conn, frame }) => {
    if (conn.closed) return;
    // Checked as the frame leaves, not as it arrives: what waits in the schedule is bounded by the profile's delay.
    if (to.writableLength + frame.length > maxBuffered) {
      if (up) stats.backpressureDrops.up++;
      else stats.backpressureDrops.down++;
      return;
    }
    to.write(frame);
    if (to.writableLength > stats.peakBufferedBytes) stats.peakBufferedBytes = to.writableLength;
  });
  const close = (c: Conn, reset: boolean) => {
    if (c.closed) return;
    c.closed = true;
    conns.delete(c.key);
    stats.connections = conns.size;
    if (reset) {
      c.client.resetAndDestroy();
      c.upstream.resetAndDestroy();
    } else {
      c.client.destroy();
      c.upstream.destroy();
    }
  };
  const pipe = (c: Conn, from: Socket, to: Socket, up: boolean, link: Link) => {
    const framed = new FramedLink(link);
    from.on("data", (chunk: Buffer) => {
      if (c.closed) return;
      const now = performance.now();
      const err = framed.push(now, chunk, (at, frame) => departures.put(now, at, { to, up, conn: c, frame }));
      if (err) {
        stats.badFrames++;
        close(c, false);
      }
    });
  };

  const server: Server = createServer((client) => {
    const key = formatEndpoint({ address: client.remoteAddress ?? "", port: client.remotePort ?? 0 });
    client.setNoDelay(true);
    // Writes before the connect completes are buffered by node:net.
    const upstream = connect({ host: o.target.address, port: o.target.port, noDelay: true });
    const c: Conn = { key, client, upstream, closed: false };
    conns.set(key, c);
    stats.accepted++;
    stats.connections = conns.size;
    pipe(c, client, upstream, true, o.up);
    pipe(c, upstream, client, false, o.down);
    for (const s of [client, upstream]) {
      s.on("error", () => close(c, false));
      s.on("close", () => close(c, false));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.listen.port, o.listen.address, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as { address: string; port: number };
  o.log?.info(
    { tcpListen: formatEndpoint(a), tcpTarget: formatEndpoint(o.target) },
    "tcp impairer listening",
  );
  return {
    address: { address: a.address, port: a.port },
    stats,
    connections: () => [...conns.keys()],
    reset(client) {
      const chosen = [...conns.values()].filter((c) => client === undefined || c.key === client);
      for (const c of chosen) close(c, true);
      stats.resets += chosen.length;
      return chosen.map((c) => c.key);
    },
    async close() {
      departures.clear();
      for (const c of [...conns.values()]) close(c, false);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
