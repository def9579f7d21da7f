/**
 * Cheap structural check of an SDP offer before any WebRTC stack sees it, so
 * a bad offer gets a clear 400 with a reason. Used by the edge (Workers) and
 * the transceiver (Node): standard APIs only.
 */
export const MAX_OFFER_BYTES = 64 * 1024;

export type OfferCheck = { ok: true } | { ok: false; reason: string };

export function checkOffer(sdp: unknown): OfferCheck {
  if (typeof sdp !== "string" || sdp.trim() === "") return { ok: false, reason: "the SDP offer is empty" };
  if (sdp.length > MAX_OFFER_BYTES)
    return { ok: false, reason: `the SDP offer is larger than ${MAX_OFFER_BYTES} bytes` };
  if (!/^v=0\r?\n/.test(sdp)) return { ok: false, reason: 'the SDP offer must start with "v=0"' };
  const media = sdp.match(/^m=(audio|video|application) /gm) ?? [];
  if (media.length === 0)
    return { ok: false, reason: "the SDP offer has no audio or data-channel media section" };
  if (!/^a=ice-ufrag:\S+/m.test(sdp)) return { ok: false, reason: "the SDP offer has no a=ice-ufrag" };
  if (!/^a=ice-pwd:\S+/m.test(sdp)) return { ok: false, reason: "the SDP offer has no a=ice-pwd" };
  if (!/^a=fingerprint:\S+ [0-9A-Fa-f:]+/m.test(sdp))
    return { ok: false, reason: "the SDP offer has no DTLS a=fingerprint" };
  return { ok: true };
}
