import { describe, expect, it } from "vitest";
import { withTcpCandidate } from "../../media/transceiver/answer-candidates.ts";

const UDP = "a=candidate:f1 1 udp 2116026367 203.0.113.9 3478 typ host generation 0 ufrag U";
const TCP = "f2 1 tcp 1772093439 203.0.113.9 443 typ host tcptype passive generation 0 ufrag U";
const answer = [
  "v=0",
  "m=audio 9 UDP/TLS/RTP/SAVPF 96",
  UDP,
  "a=end-of-candidates",
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
  UDP,
  "a=end-of-candidates",
  "",
].join("\r\n");

describe("the answer's candidates", () => {
  it("adds the TCP candidate after the UDP one in every m-section", () => {
    const lines = withTcpCandidate(answer, TCP, false).split("\r\n");
    expect(lines.filter((l) => l === UDP)).toHaveLength(2);
    expect(lines.filter((l) => l === `a=candidate:${TCP}`)).toHaveLength(2);
    expect(lines[lines.indexOf(UDP) + 1]).toBe(`a=candidate:${TCP}`);
    expect(lines.at(-1)).toBe(""); // the trailing CRLF stays
  });

  it("with tcpOnly, only the TCP candidate", () => {
    const out = withTcpCandidate(answer, TCP, true);
    expect(out).not.toContain(UDP);
    expect(out.split("\r\n").filter((l) => l.startsWith("a=candidate:"))).toEqual([
      `a=candidate:${TCP}`,
      `a=candidate:${TCP}`,
    ]);
  });

  it("without a TCP listener, the answer as werift wrote it", () => {
    expect(withTcpCandidate(answer, undefined, true)).toBe(answer);
  });
});
