/**
 * The flow-end marker: what a transceiver sends down a session's flow when the
 * session has ended, so that the relays on the path drop the flow (and its
 * shared record) at once instead of when it idles out. Its first byte, 0xFF,
 * is none of the protocols a WebRTC flow carries (RFC 7983: STUN 0–3, DTLS
 * 20–63, TURN channels 64–79, RTP/RTCP 128–191), so no client datagram can be
 * taken for it; a relay honours it only from the flow's own next hop.
 */
export const FLOW_END: Buffer = Buffer.from([0xff, 0x76, 0x65, 0x2d, 0x65, 0x6e, 0x64, 0x00]); // ÿve-end\0

/** Whether buf[off..end) is the flow-end marker. */
export function isFlowEnd(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off !== FLOW_END.length || buf[off] !== 0xff) return false;
  for (let i = 1; i < FLOW_END.length; i++) if (buf[off + i] !== FLOW_END[i]) return false;
  return true;
}
