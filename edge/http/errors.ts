/**
 * Errors in the OpenAI shape: {"error": {"message", "type", "param", "code"}}.
 * Every failure the edge reports goes through here, so clients never see a
 * stack trace or an HTML page.
 */

export type ErrorType = "invalid_request_error" | "server_error";

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly param: string | null;
  readonly type: ErrorType;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    code: string | null,
    opts: { param?: string | null; type?: ErrorType; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.param = opts.param ?? null;
    this.type = opts.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.headers = opts.headers ?? {};
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  toResponse(): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { "content-type": "application/json", ...this.headers },
    });
  }
}

export const invalidOffer = (message: string, param: string | null = null): ApiError =>
  new ApiError(400, message, "invalid_offer", { param });

export const tooLarge = (limit: number): ApiError =>
  new ApiError(413, `The request body exceeds the limit of ${limit} bytes.`, "request_too_large");

export const unavailable = (message: string, code: string, retryAfterSeconds: number): ApiError =>
  new ApiError(503, message, code, { headers: { "retry-after": String(retryAfterSeconds) } });

export const notFoundRoute = (method: string, path: string): ApiError =>
  new ApiError(404, `Invalid URL (${method} ${path})`, null);

/** A known path with a method it does not take (RFC 9110 §15.5.6: with Allow). */
export const methodNotAllowed = (method: string, path: string, allow: string[]): ApiError =>
  new ApiError(
    405,
    `Invalid method (${method} ${path}): this path takes ${allow[0]}.`,
    "method_not_allowed",
    {
      headers: { allow: allow.join(", ") },
    },
  );

export const internalError = (requestId: string): ApiError =>
  new ApiError(500, `The edge failed to handle the request (request id ${requestId}).`, "internal_error");
