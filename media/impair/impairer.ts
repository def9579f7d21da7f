/**
 * The impairer's shell: a UDP proxy between clients and a target (an
 * ingress). Per client source address it keeps its own upstream socket, so
 * the target sees one address per client, as behind a NAT; `rebind()` gives a
 * client a new upstream socket (a new source port: NAT rebinding) and closes
 * the old one, so replies to the old port are lost as they would be at a NAT.
 * Each direction runs a `Link` (the decisions); `Departures` (one queue, one
 * timer) holds what waits to leave.
 */
import { createSocket, type Socket } from "node:dgram";
import { performance } from "node:perf_hooks";
import type { Endpoint } from "../../shared/hint.ts";
import { familyOf, formatEndpoint, isUnspecifiedIp } from "../../shared/ip.ts";
import type { Logger } from "../runtime/log.ts";
import { Departures } from "./departures.ts";
import { tcpProfile } from "./framed-link.ts";
import { Link, type LinkStats } from "./link.ts";
import { Prng } from "./prng.ts";
import type { Profile } from "./profile.ts";
import { startTcpProxy, type TcpProxy, type TcpProxyStats } from "./tcp-proxy.ts";

export type Direction = "up" | "down" | "both";

export interface ImpairerOptions {
  /** Where clients send (the address to advertise); port 0: any free port. */
  listen: Endpoint;
  /** Where datagrams go (the ingress). */
  target: Endpoint;
  /** Client -> target, and target -> client. */
  up: Profile;
  down: Profile;
  seed?: number;
  /** TCP mode: where clients connect (an ICE-TCP port to advertise) and the ingress's TCP port; both or neither. */
  tcpListen?: Endpoint;
  tcpTarget?: Endpoint;
  /** TCP mode: bytes queued toward a slow reader beyond which frames are dropped (default 16 KiB). */
  tcpMaxBufferedBytes?: number;
  /** A client silent this long loses its upstream socket. */
  idleTimeoutMs?: number;
  log?: Logger;
}

export interface ImpairerStats {
  up: LinkStats;
  down: LinkStats;
  clients: number;
  rebinds: number;
  expired: number;
  /** Replies that arrived on an upstream socket after its client had moved on or gone. */
  late: number;
  /** TCP mode's frames per direction and its connections, when it runs. */
  tcp?: { up: LinkStats; down: LinkStats } & TcpProxyStats;
}

export interface ClientBinding {
  client: string;
  /** The upstream socket's local address: the client as the target sees it. */
  upstream: string;
}

interface Binding {
  key: string;
  client: Endpoint;
  socket: Socket;
  upstreamPort: number;
  lastSeen: number;
  closed: boolean;
}

interface Outgoing {
  binding: Binding;
  up: boolean;
  data: Buffer;
}

export interface Impairer {
  address: Endpoint;
  /** The TCP mode, when it runs. */
  tcp: TcpProxy | undefined;
  readonly stats: ImpairerStats;
  profile(direction: "up" | "down"): Profile;
  setProfile(profile: Profile, direction?: Direction): void;
  /** Drops everything both ways for `ms` from now. */
  blackout(ms: number): void;
  /** New upstream sockets (new source ports) for `client` ("ip:port"), or every client; resolves with the new bindings. */
  rebind(client?: string): Promise<ClientBinding[]>;
  clients(): ClientBinding[];
  close(): Promise<void>;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export async function startImpairer(o: ImpairerOptions): Promise<Impairer> {
  const prng = new Prng(o.seed ?? 1);
  const up = new Link(o.up, prng);
  const down = new Link(o.down, prng);
  const bindings = new Map<string, Binding>();
  const family = familyOf(o.target.address) === 6 ? "udp6" : "udp4";
  const upstreamHost = isUnspecifiedIp(o.listen.address)
    ? family === "udp6"
      ? "::1"
      : "127.0.0.1"
    : o.listen.address;
  const idleTimeoutMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const stats: ImpairerStats = {
    up: up.stats,
    down: down.stats,
    clients: 0,
    rebinds: 0,
    expired: 0,
    late: 0,
  };
  // TCP frames get their own links: reordering is off for them, and a stream's frames should not share a loss chain with datagrams.
  const tcpUp = new Link(tcpProfile(o.up), prng);
  const tcpDown = new Link(tcpProfile(o.down), prng);
  const tcp =
    o.tcpListen && o.tcpTarget
      ? await startTcpProxy({
          listen: o.tcpListen,
          target: o.tcpTarget,
          up: tcpUp,
          down: tcpDown,
          maxBufferedBytes: o.tcpMaxBufferedBytes,
          log: o.log,
        })
      : undefined;
  if (tcp) stats.tcp = Object.assign(tcp.stats, { up: tcpUp.stats, down: tcpDown.stats });
  const listen = createSocket({ type: familyOf(o.listen.address) === 6 ? "udp6" : "udp4" });
  const departures = new Departures<Outgoing>((out) => {
    const b = out.binding;
    if (b.closed) return;
    if (out.up) b.socket.send(out.data, o.target.port, o.target.address);
    else listen.send(out.data, b.client.port, b.client.address);
  });
  const pass = (link: Link, binding: Binding, isUp: boolean, data: Buffer) => {
    const now = performance.now();
    const copies = link.pass(now, data.length);
    for (let i = 0; i < copies; i++) departures.put(now, link.departures[i]!, { binding, up: isUp, data });
  };

  /** A client's socket toward the target; what it receives goes to the client while it is the client's current one. */
  const upstreamSocket = (key: string): Socket => {
    const s = createSocket({ type: family });
    s.on("message", (msg) => {
      const b = bindings.get(key);
      if (!b || b.socket !== s) {
        stats.late++;
        return;
      }
      pass(down, b, false, msg);
    });
    s.on("error", (err) => o.log?.warn({ err: err.message, client: key }, "upstream socket error"));
    return s;
  };
  const bindUpstream = (s: Socket): Promise<number> =>
    new Promise((resolve) => s.bind(0, upstreamHost, () => resolve(s.address().port)));
  const describe = (b: Binding): ClientBinding => ({
    client: b.key,
    upstream: formatEndpoint({ address: upstreamHost, port: b.upstreamPort }),
  });

  listen.on("message", (msg, from) => {
    const key = formatEndpoint(from);
    let b = bindings.get(key);
    if (!b) {
      const socket = upstreamSocket(key);
      const created: Binding = {
        key,
        client: { address: from.address, port: from.port },
        socket,
        upstreamPort: 0,
        lastSeen: 0,
        closed: false,
      };
      // Sends queue in node:dgram until the bind completes.
      void bindUpstream(socket).then((port) => {
        created.upstreamPort = port;
      });
      b = created;
      bindings.set(key, b);
      stats.clients = bindings.size;
    }
    b.lastSeen = performance.now();
    pass(up, b, true, msg);
  });
  listen.on("error", (err) => o.log?.warn({ err: err.message }, "impairer socket error"));
  await new Promise<void>((resolve, reject) => {
    listen.once("error", reject);
    listen.bind(o.listen.port, o.listen.address, () => {
      listen.off("error", reject);
      resolve();
    });
  });
  const drop = (b: Binding) => {
    b.closed = true;
    b.socket.close();
    bindings.delete(b.key);
    stats.clients = bindings.size;
  };
  const sweep = setInterval(
    () => {
      const idleSince = performance.now() - idleTimeoutMs;
      for (const b of bindings.values())
        if (b.lastSeen < idleSince) {
          drop(b);
          stats.expired++;
        }
    },
    Math.min(5000, idleTimeoutMs / 4),
  );
  sweep.unref();
  const a = listen.address();
  o.log?.info(
    { listen: formatEndpoint(a), target: formatEndpoint(o.target), upstream: upstreamHost },
    "impairer listening",
  );

  return {
    address: { address: a.address, port: a.port },
    tcp,
    stats,
    profile: (direction) => (direction === "up" ? up : down).current,
    setProfile(profile, direction = "both") {
      if (direction !== "down") {
        up.setProfile(profile);
        tcpUp.setProfile(tcpProfile(profile));
      }
      if (direction !== "up") {
        down.setProfile(profile);
        tcpDown.setProfile(tcpProfile(profile));
      }
    },
    blackout(ms) {
      const until = performance.now() + ms;
      for (const l of [up, down, tcpUp, tcpDown]) l.blackout(until);
    },
    async rebind(client) {
      const chosen = [...bindings.values()].filter((b) => client === undefined || b.key === client);
      await Promise.all(
        chosen.map(async (b) => {
          const next = upstreamSocket(b.key);
          const port = await bindUpstream(next);
          if (b.closed) {
            next.close();
            return;
          }
          b.upstreamPort = port;
          // Until now datagrams kept leaving by the old socket; from here on the old port is gone.
          const old = b.socket;
          b.socket = next;
          old.close();
          stats.rebinds++;
        }),
      );
      return chosen.map(describe);
    },
    clients: () => [...bindings.values()].map(describe),
    async close() {
      clearInterval(sweep);
      departures.clear();
      for (const b of [...bindings.values()]) drop(b);
      await tcp?.close();
      await new Promise<void>((r) => listen.close(() => r()));
    },
  };
}
