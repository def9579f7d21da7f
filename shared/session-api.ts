/**
 * The transceiver's internal session API, defined once: the edge
 * (edge/calls/transceiver.ts) calls it, the transceiver
 * (media/transceiver/api/) serves it. docs/transceiver.md has the table.
 *
 *   POST   /v1/sessions            CreateSessionBody (or raw application/sdp) -> 201 CreatedSession
 *   GET    /v1/sessions            -> 200 {sessions}
 *   GET    /v1/sessions/{id}       -> 200 session | 404
 *   POST   /v1/sessions/{id}/offer RestartBody (or raw application/sdp) -> 200 CreatedSession | 404
 *   DELETE /v1/sessions/{id}       -> 204 | 404
 *   GET    /v1/sessions/{id}/sideband (WebSocket upgrade) -> 101 | 404 | 409 (sideband_limit, no_events)
 *
 * Every route but /healthz and /metrics needs "Authorization: Bearer <token>".
 */
import { z } from "zod";
import { MAX_OFFER_BYTES } from "./offer.ts";

export const SESSIONS_PATH = "/v1/sessions";

/** Session ids travel inside call ids and URLs: 1..64 of the base64url alphabet. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The largest request body the API reads: an offer plus its JSON envelope and session config. */
export const MAX_REQUEST_BYTES = MAX_OFFER_BYTES + 16 * 1024;

/**
 * The bearer token `npm start` and a loopback-only transceiver use when none is configured. Safe only
 * on loopback: a transceiver listening on any other address refuses to start with it.
 */
export const DEV_SESSION_API_TOKEN = "voice-edge-dev-transceiver-token";

export function sessionPath(id: string, offer = false): string {
  return `${SESSIONS_PATH}/${encodeURIComponent(id)}${offer ? "/offer" : ""}`;
}

/** The WebSocket the edge proxies a call's sideband to (docs/transceiver.md, "Sidebands"). */
export function sidebandPath(id: string): string {
  return `${SESSIONS_PATH}/${encodeURIComponent(id)}/sideband`;
}

export const CreateSessionBody = z.object({
  sdp: z.string(),
  /** host:port of the Global Relay ingress the answer must advertise. */
  ingress: z.string().max(64).optional(),
  /** host:port of that ingress's ICE-TCP listener: advertised beside it, as a passive TCP candidate. */
  ingress_tcp: z.string().max(64).optional(),
  /** Advertise only the TCP candidate (tests; a deployment that wants every call over TCP). */
  tcp_only: z.boolean().optional(),
  /** The Realtime session config (model, voice, …) for the bridge. */
  session: z.record(z.string(), z.unknown()).optional(),
  call_id: z.string().max(256).optional(),
});
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

export const RestartBody = z.object({ sdp: z.string() });

export const CreatedSession = z.object({
  id: z.string().regex(SESSION_ID_PATTERN),
  sdp: z.string().startsWith("v=0"),
  ufrag: z.string().min(1),
  worker: z.number().int(),
  ingress: z.string().min(1),
});
export type CreatedSession = z.infer<typeof CreatedSession>;

/** Errors in the Realtime API's shape. */
export const ErrorBody = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.string().nullish(),
    param: z.string().nullish(),
  }),
});
