/**
 * The candidates an SDP answer advertises: the Global Relay ingress's UDP
 * host candidate (what werift writes), and beside it the ingress's ICE-TCP
 * listener as a `tcptype passive` host candidate (RFC 6544), at a lower
 * priority so clients prefer UDP and fall back to TCP where UDP is blocked.
 * With tcpOnly the UDP candidate is left out (tests, or a deployment that
 * wants every call over TCP).
 */

/** A candidate line (after "a=candidate:"), as werift writes them: "foundation component transport ...". */
function transportOf(line: string): string | undefined {
  return line.split(" ", 3)[2]?.toLowerCase();
}

/**
 * The answer `sdp` with `tcp` (a candidate attribute's value, without "a=candidate:") after each UDP
 * candidate, and without the UDP candidates when tcpOnly. Without `tcp` it is returned unchanged.
 */
export function withTcpCandidate(sdp: string, tcp: string | undefined, tcpOnly: boolean): string {
  if (tcp === undefined) return sdp;
  const out: string[] = [];
  for (const line of sdp.split("\r\n")) {
    if (line.startsWith("a=candidate:") && transportOf(line.slice("a=candidate:".length)) === "udp") {
      if (!tcpOnly) out.push(line);
      out.push(`a=candidate:${tcp}`);
    } else out.push(line);
  }
  return out.join("\r\n");
}
