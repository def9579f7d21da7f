/**
 * Batched UDP I/O for the relay and the transceiver: a Node-API addon (native/udp-batch.c) that
 * reads with recvmmsg into a receive buffer shared with JS, calls back once
 * per batch, and sends queued datagrams with one sendmmsg. No per-datagram
 * Buffer, ArrayBuffer, rinfo object or address string: node:dgram's costs
 * (docs/relay.md, "I/O backends").
 *
 * Memory layout (allocated here, once per socket):
 *   bytes   BATCH slots of SLOT bytes; datagram i of a batch starts at meta
 *           offset (HEADROOM bytes into its slot, so a header fits in front)
 *   meta    per datagram: offset, length, family (4|6), port, a0..a3, scope, flags;
 *           IPv4: a0 is the address (read >>> 0); IPv6: a0..a3 big-endian words
 *   out     per queued datagram: buffer id, offset, length, family, port, a0..a3, scope
 *
 * The receive buffer is reused by the next batch: whatever outlives the
 * callback (a datagram held during a lookup) must be copied out.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Endpoint } from "../../shared/hint.ts";
import { decodeIpLiteral, formatIp } from "../../shared/ip.ts";
import { clientKeyV4 } from "../wire/encap.ts";

/** What queueToClient needs of a relay flow: its client's IPv4 key (or -1), port and encapsulation header. */
export interface ClientDestination {
  readonly key: number;
  readonly port: number;
  readonly header: Uint8Array;
}

/** Int32 fields per datagram in meta and out. */
export const META_STRIDE = 10;
/** Free bytes in front of every received datagram (an encapsulation header is 17 or 29: ENCAP_V4_LEN, ENCAP_V6_LEN). */
export const HEADROOM = 32;
/** Datagrams per recvmmsg / sendmmsg. */
export const BATCH = 64;
/** Slot size: the largest UDP payload fits behind the headroom, so nothing is ever truncated. */
export const SLOT = HEADROOM + 65536;

type Handle = object & { readonly __udpBatch: unique symbol };

interface Native {
  open(
    address: string,
    port: number,
    reusePort: boolean,
    bufferBytes: number,
    slab: ArrayBuffer,
    meta: Int32Array,
    slot: number,
    batch: number,
    out: Int32Array,
    onBatch: (n: number) => void,
    batchesPerEvent: number,
  ): Handle;
  setSendBuffers(h: Handle, buffers: ArrayBuffer[]): void;
  flush(h: Handle, n: number): number;
  sendTo(h: Handle, bytes: Uint8Array, address: string, port: number): boolean;
  address(h: Handle): [number, string, number];
  stats(h: Handle): number[];
  close(h: Handle): void;
  META_STRIDE: number;
  HEADROOM: number;
}

/** Where the addon is built (npm install runs node-gyp in media/udp-batch/native). */
export const ADDON_PATH = fileURLToPath(new URL("./native/build/Release/udp_batch.node", import.meta.url));

let loaded: Native | Error | undefined;

/** The addon, or why it cannot be used (not built, not Linux, built for another layout). */
export function loadUdpBatch(): Native | Error {
  if (loaded) return loaded;
  try {
    if (process.platform !== "linux")
      throw new Error(`recvmmsg/sendmmsg are Linux-only (${process.platform})`);
    const n = createRequire(import.meta.url)(ADDON_PATH) as Native;
    if (n.META_STRIDE !== META_STRIDE || n.HEADROOM !== HEADROOM)
      throw new Error(`${ADDON_PATH} has another memory layout: rebuild it (npm run build:native)`);
    loaded = n;
  } catch (err) {
    loaded = new Error(`udp-batch addon unavailable: ${(err as Error).message.split("\n")[0]}`);
  }
  return loaded;
}

/** IPv6 destinations as words, parsed once per Endpoint object (hops and ingresses are long-lived). */
const v6Words = new WeakMap<Endpoint, Int32Array>();

function wordsOf(ep: Endpoint): Int32Array | undefined {
  let w = v6Words.get(ep);
  if (w === undefined) {
    const b = decodeIpLiteral(ep.address);
    if (b?.length !== 16) return undefined;
    w = new Int32Array(4);
    for (let i = 0; i < 4; i++)
      w[i] = (b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!;
    v6Words.set(ep, w);
  }
  return w;
}

/** The IPv6 source of datagram i in meta as Node would report it (allocates: IPv6 senders only). */
export function formatMetaV6(meta: Int32Array, j: number): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const w = meta[j + 4 + i]!;
    b[4 * i] = w >>> 24;
    b[4 * i + 1] = (w >>> 16) & 255;
    b[4 * i + 2] = (w >>> 8) & 255;
    b[4 * i + 3] = w & 255;
  }
  const scope = meta[j + 8]!;
  // A zone id makes the address unroutable elsewhere: Steering refuses to open flows for it.
  return scope !== 0 ? `${formatIp(b)}%${scope >>> 0}` : formatIp(b);
}

/** IPv6 destinations given as strings, as Endpoint objects (so their words are parsed once); bounded. */
const v6Endpoints = new Map<string, Endpoint>();

function endpointOf(address: string, port: number): Endpoint {
  const k = `${address}#${port}`;
  let ep = v6Endpoints.get(k);
  if (ep === undefined) {
    if (v6Endpoints.size >= 1024) v6Endpoints.clear();
    ep = { address, port };
    v6Endpoints.set(k, ep);
  }
  return ep;
}

export interface BatchSocketOptions {
  bufferBytes: number;
  reusePort: boolean;
  /** Called with the number of datagrams now in bytes/meta (1..BATCH). */
  onBatch: (n: number) => void;
  /**
   * Batches read per readable event before the loop runs timers and other handles (default 8;
   * at most 64). A transceiver's work per datagram is large: one batch keeps a burst from
   * holding its pacer back.
   */
  batchesPerEvent?: number;
}

/** One UDP socket with batched I/O. Queue sends (queue*) and flush() once per batch. */
export class BatchSocket {
  readonly slab = new ArrayBuffer(BATCH * SLOT);
  readonly bytes = new Uint8Array(this.slab);
  readonly meta = new Int32Array(BATCH * META_STRIDE);
  private readonly out = new Int32Array(BATCH * META_STRIDE);
  private queued = 0;
  /** Datagrams the kernel refused (full socket buffer, unreachable destination), since open. */
  sendFailures = 0;
  private readonly native: Native;
  private readonly handle: Handle;
  private closed = false;

  /** Binds (throws "bind EADDRINUSE: ..." and the like) and starts reading. */
  constructor(native: Native, at: Endpoint, o: BatchSocketOptions) {
    this.native = native;
    this.handle = native.open(
      at.address,
      at.port,
      o.reusePort,
      o.bufferBytes,
      this.slab,
      this.meta,
      SLOT,
      BATCH,
      this.out,
      o.onBatch,
      o.batchesPerEvent ?? 8,
    );
  }

  /** Which shared buffers the queued datagrams' buffer ids name (0, 1, ...). */
  sendBuffers(buffers: ArrayBuffer[]): void {
    this.native.setSendBuffers(this.handle, buffers);
  }

  /** Queues buffers[id][off..off+len) to an endpoint (a hop or an ingress). */
  queueTo(id: number, off: number, len: number, to: Endpoint): void {
    const key = clientKeyV4(to.address, to.port);
    if (key >= 0) {
      this.put(id, off, len, 4, to.port, Math.floor(key / 65536) | 0, 0, 0, 0);
      return;
    }
    const w = wordsOf(to);
    if (w === undefined) {
      this.sendFailures++;
      return;
    }
    this.put(id, off, len, 6, to.port, w[0]!, w[1]!, w[2]!, w[3]!);
  }

  /** Queues buffers[id][off..off+len) to an address given as a string (IPv4 parsed without allocating). */
  queueToAddress(id: number, off: number, len: number, address: string, port: number): void {
    const key = clientKeyV4(address, port);
    if (key >= 0) this.put(id, off, len, 4, port, Math.floor(key / 65536) | 0, 0, 0, 0);
    else this.queueTo(id, off, len, endpointOf(address, port));
  }

  /** Datagrams queued and not flushed yet. */
  get queuedCount(): number {
    return this.queued;
  }

  /** Queues buffers[id][off..off+len) to a flow's client (address from its key or its header: no strings). */
  queueToClient(id: number, off: number, len: number, flow: ClientDestination): void {
    if (flow.key >= 0) {
      this.put(id, off, len, 4, flow.port, Math.floor(flow.key / 65536) | 0, 0, 0, 0);
      return;
    }
    const h = flow.header; // 0xF6, flags, port, 16 address bytes, key id, token
    this.put(
      id,
      off,
      len,
      6,
      flow.port,
      (h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!,
      (h[8]! << 24) | (h[9]! << 16) | (h[10]! << 8) | h[11]!,
      (h[12]! << 24) | (h[13]! << 16) | (h[14]! << 8) | h[15]!,
      (h[16]! << 24) | (h[17]! << 16) | (h[18]! << 8) | h[19]!,
    );
  }

  private put(
    id: number,
    off: number,
    len: number,
    family: number,
    port: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
  ): void {
    if (this.queued === BATCH) this.flush();
    const o = this.out;
    const k = this.queued++ * META_STRIDE;
    o[k] = id;
    o[k + 1] = off;
    o[k + 2] = len;
    o[k + 3] = family;
    o[k + 4] = port;
    o[k + 5] = a0;
    o[k + 6] = a1;
    o[k + 7] = a2;
    o[k + 8] = a3;
    o[k + 9] = 0;
  }

  /** Sends what is queued (one sendmmsg); never blocks or throws. Returns how many went out. */
  flush(): number {
    const n = this.queued;
    if (n === 0) return 0;
    this.queued = 0;
    if (this.closed) return 0;
    const sent = this.native.flush(this.handle, n);
    this.sendFailures += n - sent;
    return sent;
  }

  /** One datagram, now (cold paths: held datagrams after a lookup). */
  sendTo(bytes: Uint8Array, to: Endpoint): boolean {
    if (this.closed) return false;
    const ok = this.native.sendTo(this.handle, bytes, to.address, to.port);
    if (!ok) this.sendFailures++;
    return ok;
  }

  address(): Endpoint {
    const [, address, port] = this.native.address(this.handle);
    return { address, port };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.handle);
  }
}
