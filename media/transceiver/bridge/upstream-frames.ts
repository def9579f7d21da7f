/**
 * What every JSON-over-WebSocket upstream protocol (Realtime, GPT-Live) has in
 * common, sans-IO: one text frame is one event object, audio is base64 PCM16,
 * and anything else breaks the protocol (the link gives up:
 * backend_protocol_error).
 */
import { isObject } from "./backends.ts";
import type { Json } from "./oai-events.ts";

export type Inbound =
  | { kind: "event"; event: Json }
  | { kind: "audio"; pcm: Buffer }
  /** The upstream ended the session itself, cleanly (a Live session.closed): `reason` is its word. */
  | { kind: "end"; reason: string }
  /** The upstream broke the protocol: the link gives up (backend_protocol_error). */
  | { kind: "fault"; message: string };

/** The protocol half of an upstream adapter, as its link (upstream-link.ts) drives it. */
export interface UpstreamProtocol {
  /** One frame of the client's audio as the upstream takes it (a JSON text frame). */
  append(pcm: Buffer): string;
  /** What to send upstream for an event from the bridge (none, one, or a rewrite). */
  toUpstream(event: Json): Json | undefined;
  /** One text frame from the upstream. */
  fromUpstream(text: string): Inbound[];
}

/** The formats the bridge speaks upstream, whatever the client asked for (it hears Opus). */
export const PCM24 = { type: "audio/pcm", rate: 24000 } as const;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** One text frame as an event object, or (a string) why it is not one. */
export function parseEvent(text: string): Json | string {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return "the upstream sent a frame that is not JSON";
  }
  if (!isObject(event) || typeof event.type !== "string")
    return "the upstream sent a frame that is not an event object";
  return event;
}

/** The PCM16 in an event's base64 `field`, as audio or the fault it is. */
export function decodePcm(event: Json, field: string): Inbound {
  const b64 = event[field];
  if (typeof b64 !== "string" || b64.length % 4 !== 0 || !BASE64.test(b64))
    return { kind: "fault", message: `the upstream sent ${event.type} whose ${field} is not base64` };
  const pcm = Buffer.from(b64, "base64");
  if (pcm.length % 2 !== 0)
    return { kind: "fault", message: `the upstream sent ${event.type} with an odd number of bytes` };
  return { kind: "audio", pcm };
}

/** The session for an upstream: ours without the fields that are ours alone. */
export function withoutOurs(session: Json, ours: ReadonlySet<string>): Json {
  const s: Json = {};
  for (const [k, v] of Object.entries(session)) if (!ours.has(k)) s[k] = v;
  return s;
}
