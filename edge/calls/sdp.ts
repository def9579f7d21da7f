/**
 * Minimal offer validation: catch what is clearly not a WebRTC offer before
 * spending a transceiver round trip on it. The transceiver parses it fully.
 * Offers without candidates are normal (clients post right after
 * setLocalDescription, before ICE gathering), so candidates are not required.
 */

export type OfferCheck = { ok: true; sdp: string } | { ok: false; message: string };

const LINE = /^[a-z]=/;

export function checkOffer(text: string): OfferCheck {
  const sdp = text.replace(/^\uFEFF/, "").replace(/^[\r\n\t ]+/, "");
  if (sdp.trim() === "") return { ok: false, message: "The SDP offer is empty." };
  if (!/^v=0\r?\n/.test(sdp)) return { ok: false, message: "The SDP offer must start with 'v=0'." };
  const lines = sdp.split(/\r?\n/);
  let media = 0;
  let ufrag = false;
  let pwd = false;
  let fingerprint = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    if (!LINE.test(line)) return { ok: false, message: `Line ${i + 1} of the SDP offer is not an SDP line.` };
    if (line.startsWith("m=")) media++;
    else if (line.startsWith("a=ice-ufrag:")) ufrag = true;
    else if (line.startsWith("a=ice-pwd:")) pwd = true;
    else if (line.startsWith("a=fingerprint:")) fingerprint = true;
  }
  if (media === 0) return { ok: false, message: "The SDP offer has no media section ('m=' line)." };
  const missing = [!ufrag && "a=ice-ufrag", !pwd && "a=ice-pwd", !fingerprint && "a=fingerprint"].filter(
    Boolean,
  );
  if (missing.length > 0) return { ok: false, message: `The SDP offer lacks ${missing.join(", ")}.` };
  return { ok: true, sdp };
}
