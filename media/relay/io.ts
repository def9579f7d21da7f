/**
 * The relay's I/O backends: what owns the two UDP sockets and hands each
 * datagram to Steering, then performs the verdict. Same rules either way.
 *
 *   dgram   node:dgram: one syscall, one Buffer (a fresh 64 KB ArrayBuffer),
 *           one rinfo object with an address string per datagram; portable
 *   batch   the udp-batch addon (../udp-batch): recvmmsg/sendmmsg batches
 *           through buffers allocated once, senders as numbers; Linux, needs
 *           the addon built (npm install does it, and may fail without a compiler)
 *
 * "auto" (the default) picks batch when the addon loads, else dgram
 * (../udp-batch/io-choice.ts, shared with the transceiver).
 */
import type { Endpoint } from "../../shared/hint.ts";
import type { Logger } from "../runtime/log.ts";
import type { IoBackend } from "../udp-batch/io-choice.ts";
import type { Steering } from "./steering.ts";

export interface IoContext {
  steering: Steering;
  /** Cluster relay behind ingresses: the public socket takes encapsulated datagrams (fromIngress). */
  behindIngresses: boolean;
  listen: Endpoint;
  internal: Endpoint;
  bufferBytes: number;
  reusePort: boolean;
  /**
   * A datagram without a flow ("recover"), in memory of its own (copied out of
   * any shared buffer), from `address:port` (the client, or its ingress): look it up.
   */
  lookUp(msg: Buffer, address: string, port: number, now: number): void;
  log: Logger;
}

export interface RelayIo {
  backend: IoBackend;
  publicAddress: Endpoint;
  internalAddress: Endpoint;
  /** Cold path (held datagrams after a lookup): sends `parts`, concatenated, from the internal socket. */
  sendInternal(parts: readonly Uint8Array[], to: Endpoint): void;
  /**
   * An ICE-TCP frame (io-tcp.ts) toward the next hop: `header` then buf[off..off+len), one datagram
   * from the internal socket. The buffer may be reused once this returns.
   */
  forward(header: Uint8Array, buf: Buffer, off: number, len: number, to: Endpoint): void;
  /** Datagrams the kernel refused to send (batch; node:dgram reports them as socket errors, logged). */
  sendFailures(): number;
  close(): Promise<void>;
}
