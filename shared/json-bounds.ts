/**
 * Depth bound for JSON from the network, checked on the text before
 * JSON.parse: deeply nested values parse fine but overflow the stack of
 * whatever walks them later (JSON.stringify, structured clone, validators).
 * Standard APIs only: runs in Workers and Node.
 */

/** Deeper than any Realtime session config needs (they nest 3–4 levels). */
export const MAX_JSON_DEPTH = 32;

/** Whether `text` nests objects/arrays deeper than `max`, ignoring brackets inside strings. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** JSON.parse within the depth bound, saying why when the text is not JSON or nests too deep. */
export function parseBoundedJson(
  text: string,
  max = MAX_JSON_DEPTH,
): { ok: true; value: unknown } | { ok: false; reason: "syntax" | "depth" } {
  if (jsonTooDeep(text, max)) return { ok: false, reason: "depth" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: "syntax" };
  }
}
