/**
 * The relay's decisions, without I/O: what to do with a datagram from a
 * client (public socket), from an ingress (a cluster relay's public socket
 * when it sits behind Global Relay ingresses) and from the next hop (internal
 * socket). The socket shell (server.ts) only performs the verdict. Time comes
 * in as a number (ms), so every rule is unit-testable without sockets or clocks.
 *
 * Per datagram of a known flow this does a map lookup and a few byte
 * comparisons: no allocation, no hashing, no logging. Hints (HMAC) are only
 * decoded for Binding requests that open a flow or carry a new ufrag.
 *
 * Two kinds of entry points, same rules: by address string (fromClient,
 * fromIngress, fromNextHop: node:dgram's rinfo, a datagram of its own) and,
 * for IPv4 senders, by number (fromClientV4, fromIngressV4, fromNextHopV4:
 * the sender as keyV4, the datagram at buf[off..off+len) of a shared receive
 * buffer, as the batched I/O backend hands them over). The numeric ones make
 * strings only on cold paths (a new flow, a lookup, another ingress).
 *
 * ICE-TCP (fromStream): a frame from a client's TCP connection goes through
 * the same rules as a datagram; its flow belongs to that connection (only its
 * frames use it, replies go back onto it), starts verified (the TCP handshake
 * proved the address) and has no shared record (it cannot outlive its connection).
 */

import { decodeHintBytes, type Endpoint, type HintKeyring } from "../../shared/hint.ts";
import { decodeIpLiteral } from "../../shared/ip.ts";
import { CONTENT_HANDSHAKE, clientHelloCookieAt } from "../wire/client-hello.ts";
import { DtlsCookies } from "../wire/dtls-cookie.ts";
import {
  clientKeyV4,
  ENCAP_V4,
  encapAddress,
  encapHeaderLength,
  encapKeyV4,
  encapPort,
  formatKeyV4,
} from "../wire/encap.ts";
import type { EncapCheck, EncapKeys } from "../wire/encap-auth.ts";
import { isFlowEnd } from "../wire/flow-end.ts";
import {
  ATTR_USERNAME,
  BINDING_REQUEST,
  findAttribute,
  isStun,
  serverUfragLength,
  stunMessageType,
} from "../wire/stun.ts";
import type { AddressSet } from "./config.ts";
import { Flow, type StreamSink, v4Part } from "./flow.ts";
import type { FlowTable } from "./flow-table.ts";
import type { Route } from "./next-hop.ts";
import { type DropReason, RelayStats } from "./stats.ts";

/**
 * Client datagram: pass it to `hop` (a known flow, a new one, or a re-pointed
 * one); or "recover": no flow, not a Binding request, and shared flow records
 * exist, so the shell looks the client up (the datagram is neither forwarded
 * nor dropped yet); or drop it.
 */
export type ClientVerdict = "forward" | "open" | "repoint" | "recover" | DropReason;
/**
 * Next-hop datagram: send it on toward the flow's client (or ingress), or drop it. "ended": the
 * flow-end marker removed the flow; nothing goes to the client.
 */
export type NextHopVerdict = "deliver" | "ended" | DropReason;

/** Who hears about flows whose shared record must be (re)written: opened, re-pointed, verified. */
export interface FlowChanges {
  mark(flow: Flow): void;
  /** The flow ended (its transceiver said so): its shared record goes too. */
  forget(flow: Flow): void;
}

/** What a shared record says about a flow (flow-store.ts). */
export interface RecoveredFlow {
  cluster: number;
  target: Endpoint;
  ufrag: string;
  verified: boolean;
}

export interface SteeringOptions {
  keys: HintKeyring;
  /** Encapsulation keys: tokens of the headers this relay sends, and checks of those it receives. */
  encapKeys: EncapKeys;
  route: Route;
  table: FlowTable;
  stats?: RelayStats;
  /**
   * A cluster relay behind Global Relay ingresses: its public socket takes
   * encapsulated datagrams from these senders only (fromIngress), and trusts
   * them (the ingress enforces the anti-amplification budget).
   */
  ingresses?: AddressSet;
  /** Shared flow records exist: datagrams of unknown clients are looked up ("recover") instead of dropped. */
  recoverable?: boolean;
  /** Checks the address-bound DTLS cookies the transceivers hand out; default: with `keys`. */
  cookies?: DtlsCookies;
}

export class Steering {
  readonly table: FlowTable;
  readonly stats: RelayStats;
  private readonly keys: HintKeyring;
  private readonly encap: EncapKeys;
  private readonly cookies: DtlsCookies;
  private readonly route: Route;
  private readonly ingresses: AddressSet | undefined;
  readonly recoverable: boolean;
  /** Draining (SIGTERM): no new flows, by STUN or by recovery; known flows go on. */
  draining = false;
  /** Told about flows whose shared record needs writing; none without a flow store. */
  changes: FlowChanges | undefined = undefined;

  /** After any verdict but a drop: the flow concerned. */
  flow: Flow | undefined = undefined;
  /** After "forward" / "open" / "repoint": where this datagram goes. */
  hop: Endpoint | undefined = undefined;
  /** After "deliver": offset of the client's datagram (the header's length). */
  payloadOffset = 0;
  /** After "recover": the client's IPv4 table key, or -1 (IPv6). */
  recoverKey = -1;
  /** Server ufrag length of the last Binding request looked at. */
  private ufragLength = 0;
  /** Cluster and transceiver of the last hint hopFor decoded. */
  private hintCluster = 0;
  private hintTarget: Endpoint | undefined = undefined;

  constructor(o: SteeringOptions) {
    this.keys = o.keys;
    this.encap = o.encapKeys;
    this.cookies = o.cookies ?? new DtlsCookies(o.keys);
    this.route = o.route;
    this.table = o.table;
    this.stats = o.stats ?? new RelayStats();
    this.ingresses = o.ingresses;
    this.recoverable = o.recoverable ?? false;
  }

  /** A datagram from a client on the public socket. */
  fromClient(buf: Uint8Array, address: string, port: number, now: number): ClientVerdict {
    return this.fromClientAt(buf, 0, buf.length, address, port, now);
  }

  /**
   * A datagram buf[off..off+len) from the IPv4 client `key` (keyV4: address * 65536 + port).
   * After "forward"/"open"/"repoint" the shell sends flow.header + the datagram to hop.
   */
  fromClientV4(buf: Uint8Array, off: number, len: number, key: number, now: number): ClientVerdict {
    this.stats.clientPackets++;
    this.stats.clientBytes += len;
    return this.client(buf, off, off + len, key, undefined, key % 65536, now, undefined);
  }

  /**
   * A frame buf[off..off+len) from the TCP connection `stream` of client
   * address:port (key: its clientKeyV4, or -1). The first frame must open the
   * flow (a Binding request with a valid hint: "open"); any other verdict for
   * it means the shell closes the connection.
   */
  fromStream(
    buf: Uint8Array,
    off: number,
    len: number,
    key: number,
    address: string,
    port: number,
    stream: StreamSink,
    now: number,
  ): ClientVerdict {
    this.stats.clientPackets++;
    this.stats.clientBytes += len;
    return this.client(buf, off, off + len, key, address, port, now, stream);
  }

  /** The TCP connection of a stream flow closed: the flow goes with it (if it is still the table's). */
  streamClosed(flow: Flow): void {
    if (this.table.get(flow.key, flow.address, flow.port) !== flow) return;
    this.table.delete(flow);
    this.stats.flowsClosed++;
  }

  /** fromClient for the datagram buf[off..off+len) (an IPv6 client of the batched I/O backend). */
  fromClientAt(
    buf: Uint8Array,
    off: number,
    len: number,
    address: string,
    port: number,
    now: number,
  ): ClientVerdict {
    this.stats.clientPackets++;
    this.stats.clientBytes += len;
    return this.client(buf, off, off + len, clientKeyV4(address, port), address, port, now, undefined);
  }

  /** A datagram held while its client was looked up, handed over again (already counted as received). */
  replayClient(buf: Uint8Array, address: string, port: number, now: number): ClientVerdict {
    return this.client(buf, 0, buf.length, clientKeyV4(address, port), address, port, now, undefined);
  }

  /**
   * The datagram buf[start..end) from a client: its IPv4 key, or -1 and its address (IPv6); with
   * `stream`, a frame of that TCP connection.
   */
  private client(
    buf: Uint8Array,
    start: number,
    end: number,
    key: number,
    address: string | undefined,
    port: number,
    now: number,
    stream: StreamSink | undefined,
  ): ClientVerdict {
    const len = end - start;
    this.flow = undefined;
    this.hop = undefined;
    if (len === 0) return this.drop("empty");
    const flow = key >= 0 ? this.table.getV4(key) : this.table.getV6(address!, port);
    if (flow === undefined)
      return this.open(
        buf,
        start,
        start,
        end,
        address ?? formatKeyV4(key),
        port,
        key,
        undefined,
        now,
        stream,
      );
    // A TCP connection's flow takes only its frames; a UDP flow only datagrams.
    if (flow.stream !== stream) return this.drop("wrong-transport");
    const v = this.known(flow, buf, start, end, now);
    if (v === "forward" || v === "repoint") {
      this.stats.forwardedPackets++;
      this.stats.forwardedBytes += len + flow.header.length;
    }
    return v;
  }

  /**
   * A cluster relay behind ingresses: an encapsulated datagram on its public
   * socket. It goes on to the transceiver unchanged (same header).
   */
  fromIngress(buf: Uint8Array, address: string, port: number, now: number): ClientVerdict {
    return this.fromIngressAt(buf, 0, buf.length, address, port, now);
  }

  /** fromIngress for the datagram buf[off..off+len) from the IPv4 ingress `key` (keyV4). */
  fromIngressV4(buf: Uint8Array, off: number, len: number, key: number, now: number): ClientVerdict {
    const stats = this.stats;
    stats.clientPackets++;
    stats.clientBytes += len;
    return this.ingress(buf, off, off + len, key, undefined, key % 65536, now);
  }

  /** fromIngress for the datagram buf[off..off+len) (an IPv6 ingress of the batched I/O backend). */
  fromIngressAt(
    buf: Uint8Array,
    off: number,
    len: number,
    address: string,
    port: number,
    now: number,
  ): ClientVerdict {
    const stats = this.stats;
    stats.clientPackets++;
    stats.clientBytes += len;
    return this.ingress(buf, off, off + len, clientKeyV4(address, port), address, port, now);
  }

  /** A datagram from an ingress held during a lookup, handed over again. */
  replayIngress(buf: Uint8Array, address: string, port: number, now: number): ClientVerdict {
    return this.ingress(buf, 0, buf.length, clientKeyV4(address, port), address, port, now);
  }

  /** The datagram buf[start..end) from an ingress: its IPv4 key (else -1) and, unless numeric, its address. */
  private ingress(
    buf: Uint8Array,
    start: number,
    end: number,
    from: number,
    address: string | undefined,
    port: number,
    now: number,
  ): ClientVerdict {
    const len = end - start;
    this.flow = undefined;
    this.hop = undefined;
    const h = encapHeaderLength(buf, len, start);
    if (h < 0) return this.drop("malformed");
    const v4 = buf[start] === ENCAP_V4;
    const key = v4 ? encapKeyV4(buf, start) : -1;
    const flow = v4
      ? this.table.getV4(key)
      : this.table.getV6(encapAddress(buf, start), encapPort(buf, start));
    if (flow === undefined) {
      const a = address ?? formatKeyV4(from);
      if (!this.ingresses?.allows(a, port)) return this.drop("unknown-ingress");
      // No flow, no kept token: an HMAC, before a flow is opened or looked up for this client.
      const auth = this.encap.check(buf, start);
      if (auth !== "ok") return this.unauthenticated(auth);
      const client = encapAddress(buf, start);
      return this.open(
        buf,
        start,
        start + h,
        end,
        client,
        encapPort(buf, start),
        key,
        { address: a, port },
        now,
        undefined,
      );
    }
    // Before anything of the flow changes (its ingress above all: where its replies go).
    const auth = flow.credential.check(buf, start);
    if (auth !== "ok") return this.unauthenticated(auth);
    const was = flow.ingress!;
    if (address === undefined ? flow.ingressKey !== from : was.port !== port || was.address !== address) {
      // Another ingress (or a restarted one on a new port): replies follow the client's datagrams.
      const a = address ?? formatKeyV4(from);
      if (!this.ingresses?.allows(a, port)) return this.drop("unknown-ingress");
      flow.ingress = { address: a, port };
      flow.ingressKey = from;
      this.stats.ingressMoves++;
    }
    const v = this.known(flow, buf, start + h, end, now);
    if (v === "forward" || v === "repoint") {
      this.stats.forwardedPackets++;
      this.stats.forwardedBytes += len;
    }
    return v;
  }

  /** A datagram of a known flow whose payload is buf[off..len) (len: where it ends). */
  private known(flow: Flow, buf: Uint8Array, off: number, len: number, now: number): ClientVerdict {
    flow.lastSeen = now;
    let hop = flow.hop;
    let verdict: ClientVerdict = "forward";
    const first = buf[off]!;
    if (first < 4) {
      // STUN range (RFC 7983). A Binding request naming another session re-points the flow.
      const u = this.bindingUfrag(buf, off, len);
      if (u >= 0 && !sameBytes(flow.ufrag, buf, u, this.ufragLength)) {
        const prev = flow.previousUfrag;
        if (prev !== undefined && sameBytes(prev, buf, u, this.ufragLength)) {
          hop = flow.previousHop!;
        } else {
          const next = this.hopFor(buf, u);
          if (typeof next === "string") return this.drop(next);
          flow.previousHop = flow.hop;
          flow.previousUfrag = flow.ufrag;
          flow.hop = hop = next;
          flow.target = this.hintTarget!;
          flow.ufrag = copy(buf, u, this.ufragLength);
          flow.cluster = this.hintCluster;
          this.stats.flowsRepointed++;
          this.mark(flow);
          verdict = "repoint";
        }
      }
    } else if (first === CONTENT_HANDSHAKE && !flow.budget.verified) {
      // Return-routability: a ClientHello echoing the cookie the transceiver minted for this address.
      const at = clientHelloCookieAt(buf, off, len - off);
      if (at >= 0 && buf[at]! > 0) {
        if (!this.cookieFits(flow, buf, at + 1, buf[at]!, now)) return this.drop("bad-cookie");
        flow.budget.verify();
        this.stats.flowsVerified++;
        this.mark(flow);
      }
    }
    flow.budget.receive(len - off);
    this.flow = flow;
    this.hop = hop;
    return verdict;
  }

  /** A datagram from the next hop (transceiver, or a cluster relay for an ingress) on the internal socket. */
  fromNextHop(buf: Uint8Array, address: string, port: number): NextHopVerdict {
    return this.fromNextHopAt(buf, 0, buf.length, address, port);
  }

  /**
   * fromNextHop for the datagram buf[off..off+len) from the IPv4 sender
   * `key` (keyV4). After "deliver" the client's datagram starts at off + payloadOffset.
   */
  fromNextHopV4(buf: Uint8Array, off: number, len: number, key: number): NextHopVerdict {
    return this.transceiver(buf, off, len, key, undefined, key % 65536);
  }

  /** fromNextHop for the datagram buf[off..off+len) (an IPv6 sender of the batched I/O backend). */
  fromNextHopAt(buf: Uint8Array, off: number, len: number, address: string, port: number): NextHopVerdict {
    return this.transceiver(buf, off, len, -1, address, port);
  }

  private transceiver(
    buf: Uint8Array,
    start: number,
    len: number,
    from: number,
    address: string | undefined,
    port: number,
  ): NextHopVerdict {
    const stats = this.stats;
    stats.transceiverPackets++;
    stats.transceiverBytes += len;
    this.flow = undefined;
    const h = encapHeaderLength(buf, len, start);
    if (h < 0) return this.drop("malformed");
    const flow =
      buf[start] === ENCAP_V4
        ? this.table.getV4(encapKeyV4(buf, start))
        : this.table.getV6(encapAddress(buf, start), encapPort(buf, start));
    if (flow === undefined) return this.drop("unknown-flow");
    const prev = flow.previousHop;
    if (
      address === undefined
        ? !isFromKey(flow.hop, from) && !(prev && isFromKey(prev, from))
        : !isFrom(flow.hop, address, port) && !(prev && isFrom(prev, address, port))
    )
      return this.drop("wrong-source");
    const auth = flow.credential.check(buf, start);
    if (auth !== "ok") return this.unauthenticated(auth);
    if (isFlowEnd(buf, start + h, start + len)) {
      this.table.delete(flow);
      if (flow.stream === undefined) this.changes?.forget(flow);
      else flow.stream.flowGone("ended");
      stats.flowsEnded++;
      // Behind ingresses the marker goes on (whole datagram): the ingress drops its flow too.
      if (flow.ingress === undefined) return "ended";
    } else if (!flow.budget.spend(len - h)) return this.drop("amplification");
    stats.deliveredPackets++;
    // Behind ingresses the whole datagram goes back (same header); otherwise the client's part.
    stats.deliveredBytes += flow.ingress === undefined ? len - h : len;
    this.flow = flow;
    this.payloadOffset = h;
    return "deliver";
  }

  /**
   * Rebuilds the flow of a client from its shared record (after a "recover"
   * verdict and a hit). The route decides the hop again from the record's
   * cluster and transceiver, so an ingress follows its current configuration.
   */
  adopt(
    rec: RecoveredFlow,
    address: string,
    port: number,
    ingress: Endpoint | undefined,
    now: number,
  ): Flow | DropReason {
    const key = clientKeyV4(address, port);
    const existing = key >= 0 ? this.table.getV4(key) : this.table.getV6(address, port);
    if (existing) return existing; // opened by STUN while the lookup ran
    if (this.draining) return "draining";
    if (this.table.full) return "table-full";
    const hop = this.route({ cluster: rec.cluster, transceiver: rec.target });
    if (typeof hop === "string") return hop;
    const flow = new Flow({
      address,
      port,
      key,
      cluster: rec.cluster,
      target: rec.target,
      hop,
      ufrag: Buffer.from(rec.ufrag, "latin1"),
      now,
      ingress,
      verified: rec.verified || ingress !== undefined,
      encap: this.encap,
    });
    this.table.add(flow);
    this.stats.flowsRecovered++;
    return flow;
  }

  /** Whether the cookie at buf[at..at+n) was minted for the flow's client address (and is still valid). */
  private cookieFits(flow: Flow, buf: Uint8Array, at: number, n: number, now: number): boolean {
    if (flow.key >= 0) return this.cookies.verifyV4(buf, at, n, flow.key, now);
    const ip = decodeIpLiteral(v4Part(flow.address)); // IPv6 clients: a cold path, once per flow
    return ip !== undefined && this.cookies.verify(buf, at, n, ip, flow.port, now);
  }

  /** Removes flows idle for idleMs (closing their TCP connections); returns how many. */
  sweep(now: number, idleMs: number): number {
    const n = this.table.sweep(now, idleMs, expireStream);
    this.stats.flowsExpired += n;
    return n;
  }

  /**
   * A datagram from a client without a flow (payload at buf[off..)): only a
   * Binding request with a valid hint opens one; anything else is looked up
   * when shared records exist.
   */
  private open(
    buf: Uint8Array,
    start: number,
    off: number,
    end: number,
    address: string,
    port: number,
    key: number,
    ingress: Endpoint | undefined,
    now: number,
    stream: StreamSink | undefined,
  ): ClientVerdict {
    const len = end;
    if (!isStun(buf, off, len - off)) {
      // A TCP flow is never recovered: its connection died with the relay that had it.
      if (!this.recoverable || stream !== undefined) return this.drop("not-stun");
      if (this.draining) return this.drop("draining");
      this.recoverKey = key;
      return "recover";
    }
    if (stunMessageType(buf, off) !== BINDING_REQUEST) return this.drop("not-binding");
    const u = this.bindingUfrag(buf, off, len);
    if (u < 0) return this.drop("bad-username");
    if (this.draining) return this.drop("draining");
    // Before hashing anything: a full table refuses every new flow.
    if (this.table.full) return this.drop("table-full");
    if (key < 0 && address.includes("%")) return this.drop("no-route"); // zone id: not encodable
    const hop = this.hopFor(buf, u);
    if (typeof hop === "string") return this.drop(hop);
    const flow = new Flow({
      address,
      port,
      key,
      cluster: this.hintCluster,
      target: this.hintTarget!,
      hop,
      ufrag: copy(buf, u, this.ufragLength),
      now,
      ingress,
      // Behind an ingress the ingress enforced it; over TCP the handshake proved the address.
      verified: ingress !== undefined || stream !== undefined,
      stream,
      encap: this.encap,
    });
    this.table.add(flow);
    flow.budget.receive(len - off);
    this.stats.flowsOpened++;
    this.stats.forwardedPackets++;
    this.stats.forwardedBytes += ingress === undefined ? end - start + flow.header.length : end - start;
    this.mark(flow);
    this.flow = flow;
    this.hop = hop;
    return "open";
  }

  /** Authenticates the ufrag at buf[u..) and routes it. */
  private hopFor(buf: Uint8Array, u: number): Endpoint | DropReason {
    const r = decodeHintBytes(this.keys, buf, u, u + this.ufragLength);
    if (!r.ok) {
      this.stats.hintFailures[r.reason]++;
      return "bad-hint";
    }
    this.hintCluster = r.hint.cluster;
    this.hintTarget = r.hint.transceiver;
    return this.route(r.hint);
  }

  /**
   * Offset of the USERNAME of a STUN Binding request at buf[off..len) (its
   * server half is this.ufragLength bytes long), or -1 when it is not one or
   * has no "server:client".
   */
  private bindingUfrag(buf: Uint8Array, off: number, len: number): number {
    if (!isStun(buf, off, len - off) || stunMessageType(buf, off) !== BINDING_REQUEST) return -1;
    const u = findAttribute(buf, off, len - off, ATTR_USERNAME);
    if (u < 0) return -1;
    const n = serverUfragLength(buf, u);
    if (n < 0) return -1;
    this.ufragLength = n;
    return u;
  }

  /** A flow's shared record needs writing; a stream flow has none (it cannot outlive its connection). */
  private mark(flow: Flow): void {
    if (flow.stream === undefined) this.changes?.mark(flow);
  }

  /** Counts a drop decided outside (the lookup of an unknown client). */
  countDrop(reason: DropReason): void {
    this.stats.drops[reason]++;
  }

  /** An encapsulated datagram whose key id or token is not ours. */
  private unauthenticated(check: Exclude<EncapCheck, "ok">): DropReason {
    return this.drop(check === "unknown-key" ? "unknown-encap-key" : "bad-encap-token");
  }

  private drop(reason: DropReason): DropReason {
    this.stats.drops[reason]++;
    this.flow = undefined;
    this.hop = undefined;
    return reason;
  }
}

function expireStream(flow: Flow): void {
  flow.stream?.flowGone("idle");
}

function isFrom(hop: Endpoint, address: string, port: number): boolean {
  return hop.port === port && hop.address === address;
}

/** Whether `hop` is the IPv4 sender `key` (keyV4): parses the hop's dotted quad, allocates nothing. */
function isFromKey(hop: Endpoint, key: number): boolean {
  return hop.port === key % 65536 && clientKeyV4(hop.address, hop.port) === key;
}

function sameBytes(a: Uint8Array, buf: Uint8Array, off: number, len: number): boolean {
  if (a.length !== len) return false;
  for (let i = 0; i < len; i++) if (a[i] !== buf[off + i]) return false;
  return true;
}

/** A copy, never a view: the datagram's memory is not ours to keep. */
function copy(buf: Uint8Array, off: number, len: number): Uint8Array {
  return new Uint8Array(buf.subarray(off, off + len));
}
