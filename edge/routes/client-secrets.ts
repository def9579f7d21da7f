/**
 * Ephemeral keys for browsers, minted with a server API key:
 *   POST /v1/realtime/client_secrets   {expires_after?, session?} -> {value, expires_at, session}
 *   POST /v1/realtime/sessions (beta)  {…session, client_secret?: {expires_after}} -> {…session, client_secret}
 */
import { z } from "zod";
import { encodeBase64Url } from "../../shared/base64.ts";
import type { AppContext } from "../app-env.ts";
import { authenticate, type Principal } from "../auth/authenticate.ts";
import { mintEphemeralKey } from "../auth/ephemeral-key.ts";
import { fingerprint } from "../auth/fingerprint.ts";
import { assertSessionSize } from "../calls/offer.ts";
import { readJsonObject } from "../http/body.ts";
import { ApiError } from "../http/errors.ts";
import type { Runtime } from "../runtime.ts";
import { randomId } from "./ids.ts";

export const DEFAULT_TTL_SECONDS = 600;

const ExpiresAfter = z.strictObject({
  anchor: z.literal("created_at").default("created_at"),
  seconds: z.number().int().min(10).max(7200).default(DEFAULT_TTL_SECONDS),
});
const SessionObject = z.record(z.string(), z.unknown());
const ClientSecretBody = z.strictObject({
  expires_after: ExpiresAfter.optional(),
  session: SessionObject.optional(),
});
const BetaClientSecret = z.strictObject({ expires_after: ExpiresAfter.optional() });

export async function createClientSecret(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const principal = await serverKey(c, rt);
  const body = parse(ClientSecretBody, await readJsonObject(c.req.raw, rt.config.limits.max_body_bytes));
  const minted = await mint(
    rt,
    principal,
    body.expires_after?.seconds ?? DEFAULT_TTL_SECONDS,
    body.session ?? {},
  );
  return c.json({ value: minted.value, expires_at: minted.expiresAt, session: minted.session });
}

export async function createBetaSession(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const principal = await serverKey(c, rt);
  const { client_secret, ...session } = await readJsonObject(c.req.raw, rt.config.limits.max_body_bytes);
  const secret = client_secret === undefined ? {} : parse(BetaClientSecret, client_secret, "client_secret");
  const minted = await mint(rt, principal, secret.expires_after?.seconds ?? DEFAULT_TTL_SECONDS, session);
  return c.json({ ...minted.session, client_secret: { value: minted.value, expires_at: minted.expiresAt } });
}

async function serverKey(c: AppContext, rt: Runtime): Promise<Principal> {
  return authenticate(c.req.header("authorization"), {
    apiKeys: rt.apiKeys,
    ring: rt.ring,
    nowMs: Date.now(),
    ephemeral: false,
  });
}

async function mint(rt: Runtime, principal: Principal, seconds: number, session: Record<string, unknown>) {
  assertSessionSize(session, rt.config.limits.max_session_bytes);
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + seconds;
  const sid = randomId("sess_");
  const owner = await fingerprint(rt.ring, rt.ring.current.id, principal.secret);
  // The transceiver later gets the session as the client saw it here, "type" included.
  const ses = { type: "realtime", ...session };
  const value = await mintEphemeralKey(rt.ring, { iat, exp, own: encodeBase64Url(owner), sid, ses });
  return { value, expiresAt: exp, session: { ...ses, object: "realtime.session", id: sid } };
}

/** Validates against a schema, turning the first problem into an OpenAI-style 400. */
function parse<T>(schema: z.ZodType<T>, value: unknown, prefix?: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
  if (issue.code === "unrecognized_keys") {
    const key = [...path, issue.keys[0]!].join(".");
    throw new ApiError(400, `Unknown parameter: '${key}'.`, "unknown_parameter", { param: key });
  }
  const param = path.join(".") || null;
  throw new ApiError(400, `Invalid value for '${param ?? "body"}': ${issue.message}.`, "invalid_value", {
    param,
  });
}
