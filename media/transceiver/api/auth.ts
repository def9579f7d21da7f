/**
 * The session API's credential: "Authorization: Bearer <token>", the token the
 * edge holds. Compared in constant time over SHA-256 digests, so neither the
 * token's content nor its length leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { apiError } from "../../runtime/api-error.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** What an Authorization header says about the token: the 401 to answer, or undefined when it is right. */
export type TokenCheck = (header: string | undefined) => Response | undefined;

export function tokenCheck(token: string): TokenCheck {
  if (token === "") throw new Error("the session API token is empty");
  const expected = digest(token);
  return (header) => {
    if (header === undefined)
      return apiError(
        401,
        "missing_api_key",
        "send the session API token as 'Authorization: Bearer <token>'",
      );
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!), expected))
      return apiError(401, "invalid_api_key", "wrong session API token");
    return undefined;
  };
}

export function bearerAuth(token: string): MiddlewareHandler {
  const check = tokenCheck(token);
  return async (c, next) => {
    const refused = check(c.req.header("authorization"));
    if (refused) return refused;
    await next();
  };
}
