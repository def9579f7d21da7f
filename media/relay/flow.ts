/**
 * A flow: one client transport address (IP:port) seen on the public socket,
 * and where its datagrams go. Plain data, so a later flow store (Redis) or a
 * Global Relay ingress can copy it as it is.
 */
import type { Endpoint } from "../../shared/hint.ts";
import { encodeEncapHeader, keyV4 } from "../wire/encap.ts";
import { AmplificationBudget } from "./amplification.ts";

export interface FlowInit {
  /** The client's address as the public socket reports it; replies are sent to it. */
  address: string;
  port: number;
  /** keyV4 of the client (see clientKeyV4), or -1 for an IPv6 client. */
  key: number;
  cluster: number;
  hop: Endpoint;
  /** Server ICE ufrag (the routing hint) that opened or last re-pointed the flow, as bytes. */
  ufrag: Uint8Array;
  now: number;
}

export class Flow {
  readonly address: string;
  readonly port: number;
  readonly key: number;
  /** Table key of an IPv6 client ("" for IPv4). */
  readonly keyV6: string;
  /** Encapsulation header carrying the client address: built once, sent in front of every datagram. */
  readonly header: Buffer;
  cluster: number;
  /** The transceiver that owns the session (next hop for every datagram). */
  hop: Endpoint;
  ufrag: Uint8Array;
  /** Before the last re-point: checks that still carry the old ufrag go to the old session. */
  previousHop: Endpoint | undefined = undefined;
  previousUfrag: Uint8Array | undefined = undefined;
  readonly budget = new AmplificationBudget();
  readonly openedAt: number;
  /** Last datagram from the client (ms); the idle timeout counts from here. */
  lastSeen: number;

  constructor(init: FlowInit) {
    this.address = init.address;
    this.port = init.port;
    this.key = init.key;
    this.keyV6 = init.key >= 0 ? "" : v6Key(init.address, init.port);
    this.header = encodeEncapHeader(init.key >= 0 ? v4Part(init.address) : init.address, init.port);
    this.cluster = init.cluster;
    this.hop = init.hop;
    this.ufrag = init.ufrag;
    this.openedAt = init.now;
    this.lastSeen = init.now;
  }
}

const MAPPED = "::ffff:";

/**
 * Flow key of an IPv4 client as the public socket reports it: a dotted quad,
 * or "::ffff:a.b.c.d" on a dual-stack IPv6 socket; -1 for any other IPv6 address.
 */
export function clientKeyV4(address: string, port: number): number {
  const k = keyV4(address, port);
  if (k >= 0 || address.length < 14 || !address.startsWith(MAPPED)) return k;
  return keyV4(address.slice(MAPPED.length), port);
}

/** Table key of an IPv6 client: the address (RFC 5952, as Node reports it) and port. */
export function v6Key(address: string, port: number): string {
  return `${address}#${port}`;
}

function v4Part(address: string): string {
  return address.startsWith(MAPPED) ? address.slice(MAPPED.length) : address;
}
