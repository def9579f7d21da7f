/**
 * Cheap structural check of an SDP offer before any WebRTC stack sees it, so
 * a bad offer gets a clear 400 with a reason: the edge checks before spending
 * a transceiver round trip on it, the transceiver before werift parses it.
 * Offers without candidates are normal (clients post right after
 * setLocalDescription, before ICE gathering), so candidates are not required.
 * Standard APIs only: runs in Workers and Node.
 */
export const MAX_OFFER_BYTES = 64 * 1024;

/** On success, the offer without a leading BOM or blank lines. */
export type OfferCheck = { ok: true; sdp: string } | { ok: false; reason: string };

const LINE = /^[a-z]=/;
const MEDIA = /^m=(audio|video|application) /;

export function checkOffer(text: unknown): OfferCheck {
  if (typeof text !== "string") return { ok: false, reason: "The SDP offer is empty." };
  if (text.length > MAX_OFFER_BYTES)
    return { ok: false, reason: `The SDP offer is larger than ${MAX_OFFER_BYTES} bytes.` };
  const sdp = text.replace(/^\uFEFF/, "").replace(/^[\r\n\t ]+/, "");
  if (sdp.trim() === "") return { ok: false, reason: "The SDP offer is empty." };
  if (!/^v=0\r?\n/.test(sdp)) return { ok: false, reason: "The SDP offer must start with 'v=0'." };
  const lines = sdp.split(/\r?\n/);
  let media = 0;
  let ufrag = false;
  let pwd = false;
  let fingerprint = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    if (!LINE.test(line)) return { ok: false, reason: `Line ${i + 1} of the SDP offer is not an SDP line.` };
    if (MEDIA.test(line)) media++;
    else if (/^a=ice-ufrag:\S/.test(line)) ufrag = true;
    else if (/^a=ice-pwd:\S/.test(line)) pwd = true;
    else if (/^a=fingerprint:\S+ [0-9A-Fa-f:]+/.test(line)) fingerprint = true;
  }
  if (media === 0)
    return { ok: false, reason: "The SDP offer has no audio or data-channel media section ('m=' line)." };
  const missing = [!ufrag && "a=ice-ufrag", !pwd && "a=ice-pwd", !fingerprint && "a=fingerprint"].filter(
    Boolean,
  );
  if (missing.length > 0) return { ok: false, reason: `The SDP offer lacks ${missing.join(", ")}.` };
  return { ok: true, sdp };
}
