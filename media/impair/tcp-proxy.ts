/**
 * The impairer's TCP shell: per accepted client connection one upstream
 * connection to the target (an ingress's ICE-TCP port), RFC 4571 frames in
 * each direction put through the direction's `Link` by a `FramedLink`. Frames
 * wait in one `Schedule`; a connection's frames leave in order (the links
 * keep departures monotonic; reordering is off for TCP). `reset()` tears a
 * connection down both ways (a TCP RST), as a middlebox losing its state does.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";
import type { Logger } from "../runtime/log.ts";
import { FramedLink } from "./framed-link.ts";
import type { Link } from "./link.ts";
import { Schedule } from "./schedule.ts";

export interface TcpProxyStats {
  connections: number;
  accepted: number;
  resets: number;
  /** Connections closed for a zero-length or oversize frame. */
  badFrames: number;
}

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
  conn: Conn;
  frame: Buffer;
}

export async function startTcpProxy(o: {
  listen: Endpoint;
  target: Endpoint;
  up: Link;
  down: Link;
  log?: Logger;
}): Promise<TcpProxy> {
  const stats: TcpProxyStats = { connections: 0, accepted: 0, resets: 0, badFrames: 0 };
  const conns = new Map<string, Conn>();
  const schedule = new Schedule<Outgoing>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  const send = (out: Outgoing) => {
    if (!out.conn.closed) out.to.write(out.frame);
  };
  const flush = () => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (let out = schedule.popDue(now + 0.5); out; out = schedule.popDue(now + 0.5)) send(out);
    arm();
  };
  const arm = () => {
    const at = schedule.nextAt();
    if (at === undefined || at >= timerAt) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(flush, Math.max(0, at - performance.now()));
  };
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
  const pipe = (c: Conn, from: Socket, to: Socket, link: Link) => {
    const framed = new FramedLink(link);
    const out = (at: number, frame: Buffer) => {
      const item = { to, conn: c, frame };
      if (at <= performance.now() && schedule.size === 0) send(item);
      else schedule.push(at, item);
    };
    from.on("data", (chunk: Buffer) => {
      if (c.closed) return;
      const err = framed.push(performance.now(), chunk, out);
      if (err) {
        stats.badFrames++;
        close(c, false);
        return;
      }
      arm();
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
    pipe(c, client, upstream, o.up);
    pipe(c, upstream, client, o.down);
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
      if (timer) clearTimeout(timer);
      schedule.clear();
      for (const c of [...conns.values()]) close(c, false);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
