/**
 * Relay counters: plain number fields, bumped on the hot path and read only
 * by the metrics collector (metrics.ts) when /metrics is scraped.
 */
import type { HintFailure } from "../../shared/hint.ts";
import { TCP_CLOSE_REASONS, type TcpCloseReason } from "./tcp-bounds.ts";

/** Why a datagram was not passed on. docs/relay.md explains each one. */
export const DROP_REASONS = [
  // From clients (public socket).
  "empty",
  "not-stun",
  "not-binding",
  "bad-username",
  "bad-hint",
  "wrong-cluster",
  "no-route",
  "table-full",
  // A UDP datagram for a TCP connection's flow, or a TCP first frame from an address with a UDP flow.
  "wrong-transport",
  // A ClientHello whose cookie the transceivers did not mint for this client address.
  "bad-cookie",
  // A flow this relay does not know, looked up in the shared flow records (Redis).
  "recovering",
  "lookup-busy",
  // While draining (SIGTERM): no new flows.
  "draining",
  // Cluster relay behind ingresses (public socket): a sender that is not a configured ingress.
  "unknown-ingress",
  // From transceivers (internal socket).
  "malformed",
  "unknown-flow",
  "wrong-source",
  "amplification",
  // Encapsulated datagrams (internal socket; behind ingresses also the public one) that are not
  // authentic: a key id this relay does not hold, or a token that is not the client's.
  "unknown-encap-key",
  "bad-encap-token",
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export const HINT_FAILURES: readonly HintFailure[] = [
  "length",
  "charset",
  "version",
  "unknown-key",
  "family",
  "port",
  "bad-tag",
];

export class RelayStats {
  /** Datagrams and bytes received on the public socket. */
  clientPackets = 0;
  clientBytes = 0;
  /** Sent to transceivers (bytes include the encapsulation header). */
  forwardedPackets = 0;
  forwardedBytes = 0;
  /** Received on the internal socket (bytes include the header). */
  transceiverPackets = 0;
  transceiverBytes = 0;
  /** Sent to clients (payload bytes). */
  deliveredPackets = 0;
  deliveredBytes = 0;

  flowsOpened = 0;
  flowsRepointed = 0;
  flowsVerified = 0;
  flowsExpired = 0;
  /** Flows their transceiver ended (flow-end marker). */
  flowsEnded = 0;
  /** Flows rebuilt from a shared flow record (Redis) on a non-STUN datagram, without waiting for STUN. */
  flowsRecovered = 0;
  /** Cluster relay: a flow's datagrams started arriving from another configured ingress (replies follow). */
  ingressMoves = 0;
  /** Stream flows whose TCP connection closed (by the client, or for a bound). */
  flowsClosed = 0;

  /** ICE-TCP: connections accepted (before any bound), and closed by reason. */
  tcpAccepted = 0;
  readonly tcpCloses: Record<TcpCloseReason, number> = zeros(TCP_CLOSE_REASONS);
  /** Replies dropped because the client's connection had too much queued (a slow reader). */
  tcpBackpressureDrops = 0;

  /**
   * Datagrams the kernel refused to send (full socket buffer, unreachable
   * destination): counted by the batched I/O backend, which never blocks;
   * node:dgram reports them as socket errors (logged) instead.
   */
  sendFailures = 0;

  readonly drops: Record<DropReason, number> = zeros(DROP_REASONS);
  /** Breakdown of "bad-hint" drops by what the hint decoder said. */
  readonly hintFailures: Record<HintFailure, number> = zeros(HINT_FAILURES);
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const o = {} as Record<K, number>;
  for (const k of keys) o[k] = 0;
  return o;
}
