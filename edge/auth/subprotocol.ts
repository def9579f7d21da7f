/**
 * The key of a WebSocket client that cannot set headers: the `openai`
 * package's browser client offers the subprotocols
 * `realtime, openai-insecure-api-key.<key>` (plus routing ones we ignore).
 * Sans-IO; the route authenticates what this finds.
 */

export const KEY_PROTOCOL_PREFIX = "openai-insecure-api-key.";

export interface OfferedProtocols {
  /** The key carried as a subprotocol, if any. */
  key: string | undefined;
  /** The client offered `realtime` (the server must then choose it). */
  realtime: boolean;
}

export function readProtocols(header: string | null | undefined): OfferedProtocols {
  let key: string | undefined;
  let realtime = false;
  for (const raw of (header ?? "").split(",")) {
    const p = raw.trim();
    if (p === "realtime") realtime = true;
    else if (p.startsWith(KEY_PROTOCOL_PREFIX) && key === undefined)
      key = p.slice(KEY_PROTOCOL_PREFIX.length) || undefined;
  }
  return { key, realtime };
}
