/**
 * A flow: one client transport address (IP:port) and where its datagrams go.
 * Plain data: its shared record (flow-store.ts) is a few of these fields, and a
 * relay that has never seen the client rebuilds the flow from that record.
 */
import type { Endpoint } from "../../shared/hint.ts";
import { clientKeyV4, MAPPED } from "../wire/encap.ts";
import type { EncapCredential, EncapKeys } from "../wire/encap-auth.ts";
import { AmplificationBudget } from "./amplification.ts";

/**
 * The connection a stream flow (ICE-TCP) belongs to: replies are framed back
 * onto it, and it closes when the flow goes. A UDP flow has none.
 */
export interface StreamSink {
  /** A reply for the client, buf[off..off+len): framed onto the connection, or dropped when it is backed up. */
  deliver(buf: Uint8Array, off: number, len: number): void;
  /** The flow is gone (idle, or ended by its transceiver): close the connection. */
  flowGone(reason: "idle" | "ended"): void;
}

export interface FlowInit {
  /** The client's address as the public socket reports it (or as an ingress's header names it). */
  address: string;
  port: number;
  /** keyV4 of the client (see clientKeyV4), or -1 for an IPv6 client. */
  key: number;
  cluster: number;
  /** Where the routing hint points: the session's transceiver; default: hop. */
  target?: Endpoint;
  /** Where datagrams go: the transceiver (cluster relay) or the cluster's relay (ingress). */
  hop: Endpoint;
  /** Server ICE ufrag (the routing hint) that opened or last re-pointed the flow, as bytes. */
  ufrag: Uint8Array;
  now: number;
  /** Cluster relay behind ingresses: the ingress the client's datagrams come through. */
  ingress?: Endpoint;
  /** Already verified (a cluster relay trusts its ingresses; a record may say so). */
  verified?: boolean;
  /** A stream flow: the TCP connection it came in on. */
  stream?: StreamSink;
  /** The encapsulation keys: the flow's header and tokens are computed from them, once. */
  encap: EncapKeys;
}

export class Flow {
  readonly address: string;
  readonly port: number;
  readonly key: number;
  /** Table key of an IPv6 client ("" for IPv4). */
  readonly keyV6: string;
  /** Encapsulation header carrying the client address and token: built once, sent in front of every datagram. */
  readonly header: Buffer;
  /** The client's tokens under every encapsulation key: what its encapsulated datagrams must carry. */
  readonly credential: EncapCredential;
  cluster: number;
  target: Endpoint;
  /** Next hop for every datagram of the client. */
  hop: Endpoint;
  ufrag: Uint8Array;
  /** Before the last re-point: checks that still carry the old ufrag go to the old session. */
  previousHop: Endpoint | undefined = undefined;
  previousUfrag: Uint8Array | undefined = undefined;
  /** Cluster relay behind ingresses: where replies go (the ingress the client's datagrams last came through). */
  ingress: Endpoint | undefined;
  /** clientKeyV4 of `ingress` (-1: IPv6 or none): compared per datagram without strings. Set with `ingress`. */
  ingressKey: number;
  /** A stream flow (ICE-TCP): its connection; undefined for UDP. Only its own connection's frames use it. */
  readonly stream: StreamSink | undefined;
  readonly budget = new AmplificationBudget();
  readonly openedAt: number;
  /** Last datagram from the client (ms); the idle timeout counts from here. */
  lastSeen: number;
  /** When the shared record was last written (ms), 0 if it needs writing. */
  recordedAt = 0;

  constructor(init: FlowInit) {
    this.address = init.address;
    this.port = init.port;
    this.key = init.key;
    this.keyV6 = init.key >= 0 ? "" : v6Key(init.address, init.port);
    this.credential = init.encap.credential(init.key >= 0 ? v4Part(init.address) : init.address, init.port);
    this.header = this.credential.header;
    this.cluster = init.cluster;
    this.target = init.target ?? init.hop;
    this.hop = init.hop;
    this.ufrag = init.ufrag;
    this.ingress = init.ingress;
    this.ingressKey = init.ingress ? clientKeyV4(init.ingress.address, init.ingress.port) : -1;
    this.stream = init.stream;
    if (init.verified) this.budget.verify();
    this.openedAt = init.now;
    this.lastSeen = init.now;
  }
}

/** Table key of an IPv6 client: the address (RFC 5952, as Node reports it) and port. */
export function v6Key(address: string, port: number): string {
  return `${address}#${port}`;
}

/** The client's address as carried in headers and records: "::ffff:a.b.c.d" becomes "a.b.c.d". */
export function v4Part(address: string): string {
  return address.startsWith(MAPPED) ? address.slice(MAPPED.length) : address;
}
