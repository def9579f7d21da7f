/** SDP fixtures: a browser-like offer without candidates, as clients post it. */

export const OFFER = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "a=msid-semantic: WMS",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=ice-ufrag:Yp3h",
  "a=ice-pwd:VvY7r2Mj1nXQ8LbA9sKd0fGh",
  "a=ice-options:trickle",
  "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08",
  "a=setup:actpass",
  "a=mid:0",
  "a=sendrecv",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:Yp3h",
  "a=ice-pwd:VvY7r2Mj1nXQ8LbA9sKd0fGh",
  "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08",
  "a=setup:actpass",
  "a=mid:1",
  "a=sctp-port:5000",
  "",
].join("\r\n");

export function answerFor(ufrag: string, ingress: string): string {
  const [host, port] = [
    ingress.slice(0, ingress.lastIndexOf(":")),
    ingress.slice(ingress.lastIndexOf(":") + 1),
  ];
  return [
    "v=0",
    "o=- 1 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    `a=ice-ufrag:${ufrag}`,
    "a=ice-pwd:answerpasswordanswerpass",
    `a=candidate:1 1 udp 2130706431 ${host} ${port} typ host`,
    "",
  ].join("\r\n");
}
