/**
 * A session of another host of this cluster (a Service spreads requests over pods): ask that host,
 * once. Only ever called with a host a signed session id named (see session-id.ts).
 */
import { formatEndpoint } from "../../../shared/ip.ts";
import { sessionPath } from "../../../shared/session-api.ts";
import { apiError } from "../../runtime/api-error.ts";
import type { HostAddress } from "../session-id.ts";

/** Marks a request one host forwarded to another, so it is never forwarded again. */
export const FORWARDED = "x-voice-edge-forwarded";
const FORWARD_TIMEOUT_MS = 2000;

export async function forwardToHost(
  method: "GET" | "DELETE" | "POST",
  host: HostAddress,
  id: string,
  token: string,
  sdp?: string,
): Promise<Response> {
  try {
    const r = await fetch(`http://${formatEndpoint(host)}${sessionPath(id, sdp !== undefined)}`, {
      method,
      headers: {
        [FORWARDED]: "1",
        authorization: `Bearer ${token}`,
        ...(sdp === undefined ? {} : { "content-type": "application/sdp" }),
      },
      body: sdp,
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    return new Response(r.status === 204 ? null : await r.text(), {
      status: r.status,
      headers: { "content-type": r.headers.get("content-type") ?? "application/json" },
    });
  } catch (err) {
    return apiError(
      502,
      "transceiver_unreachable",
      `the session's host did not answer: ${(err as Error).message}`,
    );
  }
}
