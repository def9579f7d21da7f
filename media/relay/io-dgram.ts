/**
 * The node:dgram I/O backend (io.ts): portable, one Buffer and one rinfo per
 * datagram. Each datagram is handed to Steering and the verdict performed,
 * synchronously: no async, no logging and no allocation of ours per packet.
 */
import { createSocket, type Socket, type SocketType } from "node:dgram";
import type { Endpoint } from "../../shared/hint.ts";
import { familyOf, formatEndpoint } from "../../shared/ip.ts";
import type { IoContext, RelayIo } from "./io.ts";
import type { ClientVerdict } from "./steering.ts";

export async function startDgramIo(ctx: IoContext): Promise<RelayIo> {
  const { steering, behindIngresses, lookUp, log } = ctx;
  const pub = await bindUdp("public", ctx.listen, ctx.bufferBytes, ctx.reusePort);
  let internal: Socket;
  try {
    internal = await bindUdp("internal", ctx.internal, ctx.bufferBytes, false);
  } catch (err) {
    pub.close();
    throw err;
  }

  /** Performs a client-side verdict for `msg` (from `address:port`, or from the ingress that sent it). */
  const onClientVerdict = (v: ClientVerdict, msg: Buffer, address: string, port: number, now: number) => {
    if (v === "forward" || v === "open" || v === "repoint") {
      const hop = steering.hop!;
      if (behindIngresses) internal.send(msg, hop.port, hop.address);
      else internal.send([steering.flow!.header, msg], hop.port, hop.address);
    } else if (v === "recover") {
      lookUp(msg, address, port, now);
    }
  };

  // Client (or ingress) -> next hop: which entry point is fixed for the socket's life.
  const fromPublic = behindIngresses
    ? steering.fromIngress.bind(steering)
    : steering.fromClient.bind(steering);
  pub.on("message", (msg, rinfo) => {
    const now = Date.now();
    onClientVerdict(fromPublic(msg, rinfo.address, rinfo.port, now), msg, rinfo.address, rinfo.port, now);
  });
  // Next hop -> client: header stripped, sent from the public port; behind ingresses, the whole datagram
  // back to the ingress the client's datagrams come through.
  internal.on("message", (msg, rinfo) => {
    if (steering.fromNextHop(msg, rinfo.address, rinfo.port) === "deliver") {
      const flow = steering.flow!;
      const ingress = flow.ingress;
      const at = steering.payloadOffset;
      if (ingress !== undefined) pub.send(msg, ingress.port, ingress.address);
      else if (flow.stream !== undefined) flow.stream.deliver(msg, at, msg.length - at);
      else pub.send(msg, at, msg.length - at, flow.port, flow.address);
    }
  });
  for (const [name, s] of [
    ["public", pub],
    ["internal", internal],
  ] as const) {
    s.on("error", (err) => log.warn({ socket: name, err: err.message }, "socket error"));
  }

  return {
    backend: "dgram",
    publicAddress: addressOf(pub),
    internalAddress: addressOf(internal),
    sendInternal: (parts, to) => internal.send(parts as Uint8Array[], to.port, to.address),
    forward: (header, buf, off, len, to) => {
      // Its own memory: the frame may sit in a decoder buffer that the next read reuses.
      const d = Buffer.allocUnsafe(header.length + len);
      d.set(header, 0);
      buf.copy(d, header.length, off, off + len);
      internal.send(d, to.port, to.address);
    },
    sendFailures: () => 0,
    close: () => Promise.all([closeUdp(pub), closeUdp(internal)]).then(() => undefined),
  };
}

/**
 * A UDP socket bound to an IP literal. Its lookup answers synchronously:
 * Node's default (dns.lookup) defers every send to an IP literal by a tick.
 */
async function bindUdp(name: string, at: Endpoint, bufferBytes: number, reusePort: boolean): Promise<Socket> {
  const family = familyOf(at.address);
  const type: SocketType = family === 6 ? "udp6" : "udp4";
  const s = createSocket({
    type,
    reusePort,
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
