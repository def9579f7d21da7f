/**
 * Where RTP from an SSRC the offer never named goes (RFC 8843 §9.2, sans-IO):
 * to the m-line its MID header extension names, else to the only m-line of
 * its kind that receives and knows its payload type. Offers without a=ssrc
 * are legal (GStreamer's webrtcbin sends them); werift routes by SSRC or RID only.
 */

export interface MLine {
  mid: string | undefined;
  kind: string;
  receives: boolean;
  payloadTypes: readonly number[];
}

/** Index of the m-line for the packet, or -1 (no such MID, none or several candidates). */
export function mLineFor(lines: readonly MLine[], mid: string | undefined, payloadType: number): number {
  if (mid !== undefined) return lines.findIndex((l) => l.mid === mid && l.receives);
  let found = -1;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.receives || l.kind !== "audio" || !l.payloadTypes.includes(payloadType)) continue;
    if (found >= 0) return -1;
    found = i;
  }
  return found;
}
