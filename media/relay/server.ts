/**
 * The relay's socket shell: two UDP sockets and a timer around Steering.
 *
 *   public socket   (--listen)    clients' datagrams in, replies out
 *   internal socket (--internal)  encapsulated datagrams to transceivers, their replies in
 *
 * Everything that decides lives in steering.ts; here each datagram is handed
 * over and the verdict performed, synchronously: no async, no logging and no
 * allocation of ours per packet.
 */
import { createSocket, type Socket, type SocketType } from "node:dgram";
import type { Endpoint, HintKeyring } from "../../shared/hint.ts";
import { createLogger, type Logger } from "../log.ts";
import { type AdminServer, startAdmin } from "./admin.ts";
import { familyOf, formatEndpoint } from "./endpoint.ts";
import { FlowTable } from "./flow-table.ts";
import { relayRegistry } from "./metrics.ts";
import { clusterRoute, type Route } from "./next-hop.ts";
import type { RelayStats } from "./stats.ts";
import { Steering } from "./steering.ts";

export interface RelayOptions {
  cluster: number;
  keys: HintKeyring;
  /** Public socket; default 0.0.0.0:3478. */
  listen?: Endpoint;
  /** Internal socket toward transceivers; default 0.0.0.0:0 (ephemeral). */
  internal?: Endpoint;
  /** Flows idle this long are removed; default 30 000 ms. */
  idleTimeoutMs?: number;
  /** Size bound of the flow table; default 100 000. */
  maxFlows?: number;
  /** Where to serve /metrics and /healthz; none when omitted. */
  admin?: Endpoint;
  /** SO_RCVBUF/SO_SNDBUF of both sockets (capped by net.core.rmem_max/wmem_max); default 4 MiB. */
  socketBufferBytes?: number;
  /** Next-hop decision; default: the hint's transceiver, for this cluster only. */
  route?: Route;
  logger?: Logger;
}

export interface Relay {
  publicAddress: Endpoint;
  internalAddress: Endpoint;
  adminAddress: Endpoint | undefined;
  stats: RelayStats;
  flows: FlowTable;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN: Endpoint = { address: "0.0.0.0", port: 3478 };
export const DEFAULT_INTERNAL: Endpoint = { address: "0.0.0.0", port: 0 };
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_FLOWS = 100_000;
const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;

export async function startRelay(o: RelayOptions): Promise<Relay> {
  const log = o.logger ?? createLogger("relay");
  const listen = o.listen ?? DEFAULT_LISTEN;
  const internalAt = o.internal ?? DEFAULT_INTERNAL;
  const idleMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!(idleMs > 0) || !Number.isFinite(idleMs))
    throw new Error(`idle timeout ${idleMs} ms is not a positive number`);
  const bufferBytes = o.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER;
  const table = new FlowTable(o.maxFlows ?? DEFAULT_MAX_FLOWS);
  const steering = new Steering({
    keys: o.keys,
    route: o.route ?? clusterRoute(o.cluster, familyOf(internalAt.address)),
    table,
  });
  const stats = steering.stats;

  const pub = await bindUdp("public", listen, bufferBytes);
  let internal: Socket;
  try {
    internal = await bindUdp("internal", internalAt, bufferBytes);
  } catch (err) {
    pub.close();
    throw err;
  }

  // Client -> transceiver: the flow's header, then the datagram as it came.
  pub.on("message", (msg, rinfo) => {
    const v = steering.fromClient(msg, rinfo.address, rinfo.port, Date.now());
    if (v === "forward" || v === "open" || v === "repoint") {
      const hop = steering.hop!;
      internal.send([steering.flow!.header, msg], hop.port, hop.address);
    }
  });
  // Transceiver -> client: header stripped, sent from the public port.
  internal.on("message", (msg, rinfo) => {
    if (steering.fromTransceiver(msg, rinfo.address, rinfo.port) === "deliver") {
      const flow = steering.flow!;
      const at = steering.payloadOffset;
      pub.send(msg, at, msg.length - at, flow.port, flow.address);
    }
  });
  for (const [name, s] of [
    ["public", pub],
    ["internal", internal],
  ] as const) {
    s.on("error", (err) => log.warn({ socket: name, err: err.message }, "socket error"));
  }

  const sweepEvery = Math.min(5_000, Math.max(20, Math.floor(idleMs / 4)));
  const sweeper = setInterval(() => steering.sweep(Date.now(), idleMs), sweepEvery);
  sweeper.unref();

  let admin: AdminServer | undefined;
  if (o.admin) {
    try {
      admin = await startAdmin(
        o.admin,
        relayRegistry(stats, () => table.size, table.maxFlows),
        () => ({
          flows: table.size,
        }),
      );
    } catch (err) {
      clearInterval(sweeper);
      pub.close();
      internal.close();
      throw err;
    }
  }

  const publicAddress = addressOf(pub);
  const internalAddress = addressOf(internal);
  log.info(
    {
      public: formatEndpoint(publicAddress),
      internal: formatEndpoint(internalAddress),
      admin: admin ? formatEndpoint(admin.address) : "off",
      cluster: o.cluster,
      idleTimeoutMs: idleMs,
      maxFlows: table.maxFlows,
    },
    "relay listening",
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      await Promise.all([closeUdp(pub), closeUdp(internal), admin?.close()]);
      log.info({ flows: table.size, ...summary(stats) }, "relay closed");
    })();
    return closing;
  };
  return { publicAddress, internalAddress, adminAddress: admin?.address, stats, flows: table, close };
}

/**
 * A UDP socket bound to an IP literal. Its lookup answers synchronously:
 * Node's default (dns.lookup) defers every send to an IP literal by a tick.
 */
async function bindUdp(name: string, at: Endpoint, bufferBytes: number): Promise<Socket> {
  const family = familyOf(at.address);
  const type: SocketType = family === 6 ? "udp6" : "udp4";
  const s = createSocket({
    type,
    recvBufferSize: bufferBytes,
    sendBufferSize: bufferBytes,
    lookup: (address, _options, callback) => callback(null, address, family),
  });
  await new Promise<void>((resolve, reject) => {
    s.once("error", (err) => {
      s.close();
      reject(new Error(`cannot bind the ${name} socket to ${formatEndpoint(at)}: ${err.message}`));
    });
    s.bind(at.port, at.address, () => {
      s.removeAllListeners("error");
      resolve();
    });
  });
  return s;
}

function closeUdp(s: Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

function addressOf(s: Socket): Endpoint {
  const a = s.address();
  return { address: a.address, port: a.port };
}

function summary(stats: RelayStats) {
  const drops = Object.fromEntries(Object.entries(stats.drops).filter(([, n]) => n > 0));
  return {
    clientPackets: stats.clientPackets,
    forwardedPackets: stats.forwardedPackets,
    transceiverPackets: stats.transceiverPackets,
    deliveredPackets: stats.deliveredPackets,
    flowsOpened: stats.flowsOpened,
    flowsExpired: stats.flowsExpired,
    drops,
  };
}
