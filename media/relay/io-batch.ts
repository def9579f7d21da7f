/**
 * The batched I/O backend (io.ts): two BatchSockets (../udp-batch/batch-socket.ts). Per
 * batch of received datagrams: each goes to Steering's numeric entry points
 * (IPv4 senders as keyV4 numbers, datagrams as offsets into the receive
 * buffer), sends are queued as (buffer, offset, length, destination) and
 * flushed with one sendmmsg. Headers are written in place, into the headroom
 * in front of each received datagram, so a forwarded datagram is one range.
 * No allocation per IPv4 datagram; IPv6 senders still get an address string
 * (flow table keys of IPv6 clients are strings, as with node:dgram).
 */
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";
import { BatchSocket, formatMetaV6, loadUdpBatch, META_STRIDE } from "../udp-batch/batch-socket.ts";
import { formatKeyV4 } from "../wire/encap.ts";
import type { IoContext, RelayIo } from "./io.ts";
import type { ClientVerdict, NextHopVerdict } from "./steering.ts";

export function startBatchIo(ctx: IoContext): RelayIo {
  const native = loadUdpBatch();
  if (native instanceof Error) throw native;
  const { steering, behindIngresses, lookUp } = ctx;

  // Client (or ingress) -> next hop.
  const fromPublic = (n: number) => {
    const m = pub.meta;
    const buf = pub.bytes;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const j = i * META_STRIDE;
      const off = m[j]!;
      const len = m[j + 1]!;
      const port = m[j + 3]!;
      let v: ClientVerdict;
      let key = -1;
      let address: string | undefined;
      if (m[j + 2] === 4) {
        key = (m[j + 4]! >>> 0) * 65536 + port;
        v = behindIngresses
          ? steering.fromIngressV4(buf, off, len, key, now)
          : steering.fromClientV4(buf, off, len, key, now);
      } else {
        address = formatMetaV6(m, j);
        v = behindIngresses
          ? steering.fromIngressAt(buf, off, len, address, port, now)
          : steering.fromClientAt(buf, off, len, address, port, now);
      }
      if (v === "forward" || v === "open" || v === "repoint") {
        const hop = steering.hop!;
        if (behindIngresses) internal.queueTo(0, off, len, hop);
        else {
          const h = steering.flow!.header;
          const at = off - h.length;
          buf.set(h, at);
          internal.queueTo(0, at, len + h.length, hop);
        }
      } else if (v === "recover") {
        // Cold: the receive buffer is reused by the next batch, so the held datagram is a copy.
        lookUp(Buffer.from(buf.subarray(off, off + len)), address ?? formatKeyV4(key), port, now);
      }
    }
    internal.flush();
  };

  // Next hop -> client: header stripped, sent from the public port; behind ingresses, the whole
  // datagram back to the ingress the client's datagrams come through.
  const fromInternal = (n: number) => {
    const m = internal.meta;
    const buf = internal.bytes;
    for (let i = 0; i < n; i++) {
      const j = i * META_STRIDE;
      const off = m[j]!;
      const len = m[j + 1]!;
      const port = m[j + 3]!;
      const v: NextHopVerdict =
        m[j + 2] === 4
          ? steering.fromNextHopV4(buf, off, len, (m[j + 4]! >>> 0) * 65536 + port)
          : steering.fromNextHopAt(buf, off, len, formatMetaV6(m, j), port);
      if (v === "deliver") {
        const flow = steering.flow!;
        const ingress = flow.ingress;
        const h = steering.payloadOffset;
        if (ingress !== undefined) pub.queueTo(0, off, len, ingress);
        else if (flow.stream !== undefined) flow.stream.deliver(buf, off + h, len - h);
        else pub.queueToClient(0, off + h, len - h, flow);
      }
    }
    pub.flush();
  };

  const pub = open(native, "public", ctx.listen, ctx, ctx.reusePort, fromPublic);
  let internal: BatchSocket;
  try {
    internal = open(native, "internal", ctx.internal, ctx, false, fromInternal);
  } catch (err) {
    pub.close();
    throw err;
  }
  // ICE-TCP frames (io-tcp.ts) to the next hop: header and frame, contiguous.
  const scratch = Buffer.allocUnsafe(65536 + 32);
  // Each socket sends out of the other's receive buffer (buffer id 0).
  pub.sendBuffers([internal.slab]);
  internal.sendBuffers([pub.slab]);

  return {
    backend: "batch",
    publicAddress: pub.address(),
    internalAddress: internal.address(),
    sendInternal: (parts, to) => {
      internal.sendTo(parts.length === 1 ? parts[0]! : Buffer.concat(parts), to);
    },
    forward: (header, buf, off, len, to) => {
      // One sendto, at once, out of a scratch buffer: nothing is queued, so the next frame may reuse it.
      const h = header.length;
      scratch.set(header, 0);
      buf.copy(scratch, h, off, off + len);
      internal.sendTo(scratch.subarray(0, h + len), to);
    },
    sendFailures: () => pub.sendFailures + internal.sendFailures,
    close: async () => {
      pub.close();
      internal.close();
    },
  };
}

function open(
  native: Exclude<ReturnType<typeof loadUdpBatch>, Error>,
  name: string,
  at: Endpoint,
  ctx: IoContext,
  reusePort: boolean,
  onBatch: (n: number) => void,
): BatchSocket {
  try {
    return new BatchSocket(native, at, { bufferBytes: ctx.bufferBytes, reusePort, onBatch });
  } catch (err) {
    throw new Error(`cannot bind the ${name} socket to ${formatEndpoint(at)}: ${(err as Error).message}`);
  }
}
