/**
 * The liveness rule (sans-IO). The transceiver is ICE-lite: it sends no
 * consent checks (RFC 7675), so consent is judged from what the client sends.
 * Every datagram routed to a session (authenticated STUN checks, DTLS, SRTP;
 * browsers send checks every few seconds and RTCP at least every few
 * seconds, whether anyone speaks or not) refreshes it; after `silenceMs`
 * without one (RFC 7675's 30 s consent timeout by default) consent is lost.
 * A session that never connects gets `connectMs`.
 */

export interface LivenessRule {
  /** Longest silence of a connected session. */
  silenceMs: number;
  /** Longest time from creation (or the last datagram) to connected. */
  connectMs: number;
}

export type Liveness = "live" | "silent" | "never-connected";

export function liveness(connected: boolean, lastSeen: number, now: number, rule: LivenessRule): Liveness {
  if (connected) return now - lastSeen > rule.silenceMs ? "silent" : "live";
  return now - lastSeen > rule.connectMs ? "never-connected" : "live";
}
