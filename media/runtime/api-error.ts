/** An HTTP error in the Realtime API's shape (`{"error":{"message","type","param","code"}}`), for every media-side API. */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  type = status >= 500 ? "server_error" : "invalid_request_error",
): Response {
  return Response.json({ error: { message, type, param: null, code } }, { status });
}
