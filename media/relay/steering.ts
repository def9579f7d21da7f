/**
 * The relay's decisions, without I/O: what to do with a datagram from a
 * client (public socket) and with one from a transceiver (internal socket).
 * The socket shell (server.ts) only performs the verdict. Time comes in as a
 * number (ms), so every rule is unit-testable without sockets or clocks.
 *
 * Per datagram of a known flow this does a map lookup and a few byte
 * comparisons: no allocation, no hashing, no logging. Hints (HMAC) are only
 * decoded for Binding requests that open a flow or carry a new ufrag.
 */
import { decodeHintBytes, type Endpoint, type HintKeyring } from "../../shared/hint.ts";
import { ENCAP_V4, encapAddress, encapHeaderLength, encapKeyV4, encapPort } from "../wire/encap.ts";
import {
  ATTR_USERNAME,
  BINDING_REQUEST,
  findAttribute,
  isStun,
  serverUfragLength,
  stunMessageType,
} from "../wire/stun.ts";
import { hasClientHelloCookie } from "./client-hello.ts";
import { clientKeyV4, Flow } from "./flow.ts";
import type { FlowTable } from "./flow-table.ts";
import type { Route } from "./next-hop.ts";
import { type DropReason, RelayStats } from "./stats.ts";

/** Client datagram: pass it to `hop` (a known flow, a new one, or a re-pointed one), or drop it. */
export type ClientVerdict = "forward" | "open" | "repoint" | DropReason;
/** Transceiver datagram: strip the header and send the rest to the flow's client, or drop it. */
export type TransceiverVerdict = "deliver" | DropReason;

export interface SteeringOptions {
  keys: HintKeyring;
  route: Route;
  table: FlowTable;
  stats?: RelayStats;
}

const DTLS_HANDSHAKE = 22;

export class Steering {
  readonly table: FlowTable;
  readonly stats: RelayStats;
  private readonly keys: HintKeyring;
  private readonly route: Route;

  /** After any verdict but a drop: the flow concerned. */
  flow: Flow | undefined = undefined;
  /** After "forward" / "open" / "repoint": where this datagram goes. */
  hop: Endpoint | undefined = undefined;
  /** After "deliver": offset of the client's datagram (the header's length). */
  payloadOffset = 0;
  /** Server ufrag length of the last Binding request looked at. */
  private ufragLength = 0;
  /** Cluster of the last hint hopFor decoded. */
  private hintCluster = 0;

  constructor(o: SteeringOptions) {
    this.keys = o.keys;
    this.route = o.route;
    this.table = o.table;
    this.stats = o.stats ?? new RelayStats();
  }

  fromClient(buf: Uint8Array, address: string, port: number, now: number): ClientVerdict {
    const len = buf.length;
    const stats = this.stats;
    stats.clientPackets++;
    stats.clientBytes += len;
    this.flow = undefined;
    this.hop = undefined;
    if (len === 0) return this.drop("empty");
    const key = clientKeyV4(address, port);
    const flow = key >= 0 ? this.table.getV4(key) : this.table.getV6(address, port);
    if (flow === undefined) return this.open(buf, address, port, key, now);

    flow.lastSeen = now;
    let hop = flow.hop;
    let verdict: ClientVerdict = "forward";
    const first = buf[0]!;
    if (first < 4) {
      // STUN range (RFC 7983). A Binding request naming another session re-points the flow.
      const u = this.bindingUfrag(buf, len);
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
          flow.ufrag = copy(buf, u, this.ufragLength);
          flow.cluster = this.hintCluster;
          stats.flowsRepointed++;
          verdict = "repoint";
        }
      }
    } else if (first === DTLS_HANDSHAKE && !flow.budget.verified && hasClientHelloCookie(buf, 0, len)) {
      flow.budget.verify();
      stats.flowsVerified++;
    }
    flow.budget.receive(len);
    stats.forwardedPackets++;
    stats.forwardedBytes += len + flow.header.length;
    this.flow = flow;
    this.hop = hop;
    return verdict;
  }

  fromTransceiver(buf: Uint8Array, address: string, port: number): TransceiverVerdict {
    const len = buf.length;
    const stats = this.stats;
    stats.transceiverPackets++;
    stats.transceiverBytes += len;
    this.flow = undefined;
    const h = encapHeaderLength(buf, len);
    if (h < 0) return this.drop("malformed");
    const flow =
      buf[0] === ENCAP_V4
        ? this.table.getV4(encapKeyV4(buf))
        : this.table.getV6(encapAddress(buf), encapPort(buf));
    if (flow === undefined) return this.drop("unknown-flow");
    if (!isFrom(flow.hop, address, port) && !(flow.previousHop && isFrom(flow.previousHop, address, port)))
      return this.drop("wrong-source");
    if (!flow.budget.spend(len - h)) return this.drop("amplification");
    stats.deliveredPackets++;
    stats.deliveredBytes += len - h;
    this.flow = flow;
    this.payloadOffset = h;
    return "deliver";
  }

  /** Removes flows idle for idleMs; returns how many. */
  sweep(now: number, idleMs: number): number {
    const n = this.table.sweep(now, idleMs);
    this.stats.flowsExpired += n;
    return n;
  }

  /** A datagram from a client without a flow: only a Binding request with a valid hint opens one. */
  private open(buf: Uint8Array, address: string, port: number, key: number, now: number): ClientVerdict {
    const len = buf.length;
    if (!isStun(buf, 0, len)) return this.drop("not-stun");
    if (stunMessageType(buf, 0) !== BINDING_REQUEST) return this.drop("not-binding");
    const u = this.bindingUfrag(buf, len);
    if (u < 0) return this.drop("bad-username");
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
      hop,
      ufrag: copy(buf, u, this.ufragLength),
      now,
    });
    this.table.add(flow);
    flow.budget.receive(len);
    this.stats.flowsOpened++;
    this.stats.forwardedPackets++;
    this.stats.forwardedBytes += len + flow.header.length;
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
    return this.route(r.hint);
  }

  /**
   * Offset of the USERNAME of a STUN Binding request (its server half is
   * this.ufragLength bytes long), or -1 when it is not one or has no "server:client".
   */
  private bindingUfrag(buf: Uint8Array, len: number): number {
    if (!isStun(buf, 0, len) || stunMessageType(buf, 0) !== BINDING_REQUEST) return -1;
    const u = findAttribute(buf, 0, len, ATTR_USERNAME);
    if (u < 0) return -1;
    const n = serverUfragLength(buf, u);
    if (n < 0) return -1;
    this.ufragLength = n;
    return u;
  }

  private drop(reason: DropReason): DropReason {
    this.stats.drops[reason]++;
    this.flow = undefined;
    this.hop = undefined;
    return reason;
  }
}

function isFrom(hop: Endpoint, address: string, port: number): boolean {
  return hop.port === port && hop.address === address;
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
