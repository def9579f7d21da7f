/**
 * The offer of POST /v1/realtime/calls (and the beta POST /v1/realtime):
 * either the raw SDP (Content-Type: application/sdp) or multipart/form-data
 * with fields "sdp" and "session" (JSON), as OpenAI accepts.
 */

import { checkOffer } from "../../shared/offer.ts";
import { mediaType, parseJson, readCapped } from "../http/body.ts";
import { ApiError, invalidOffer } from "../http/errors.ts";

export interface Offer {
  sdp: string;
  session?: Record<string, unknown>;
}

export async function readOffer(req: Request, limit: number): Promise<Offer> {
  const type = mediaType(req.headers.get("content-type"));
  if (type === "application/sdp") {
    const bytes = await readCapped(req, limit);
    return { sdp: validSdp(new TextDecoder().decode(bytes), null) };
  }
  if (type === "multipart/form-data") {
    const bytes = await readCapped(req, limit);
    let form: FormData;
    try {
      // Re-wrap the capped bytes so the platform's multipart parser does the parsing.
      form = await new Response(bytes, {
        headers: { "content-type": req.headers.get("content-type")! },
      }).formData();
    } catch {
      throw new ApiError(400, "The multipart body could not be parsed.", "invalid_body");
    }
    const sdp = validSdp(await fieldText(form, "sdp"), "sdp");
    const sessionText = await fieldText(form, "session");
    return sessionText.trim() === "" ? { sdp } : { sdp, session: parseSession(sessionText) };
  }
  throw new ApiError(
    415,
    `Unsupported content type '${type || "(none)"}': send application/sdp or multipart/form-data.`,
    "unsupported_content_type",
  );
}

function validSdp(text: string, param: string | null): string {
  const check = checkOffer(text);
  if (!check.ok) throw invalidOffer(check.reason, param);
  return check.sdp;
}

async function fieldText(form: FormData, name: string): Promise<string> {
  const v = form.get(name) as unknown;
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  return (v as Blob).text();
}

/** A session config given as JSON text: must be an object. */
export function parseSession(text: string): Record<string, unknown> {
  const value = parseJson(text, "session");
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiError(400, "The 'session' field must be a JSON object.", "invalid_value", {
      param: "session",
    });
  }
  return value as Record<string, unknown>;
}

/**
 * The session the transceiver gets: what the ephemeral key was minted with,
 * overridden by the request's own session, then by ?model=. Capped in size,
 * since it travels inside keys and to every attempt.
 */
export function mergeSession(
  layers: ReadonlyArray<Record<string, unknown> | undefined>,
  maxBytes: number,
): Record<string, unknown> | undefined {
  const present = layers.filter((l): l is Record<string, unknown> => l !== undefined);
  if (present.length === 0) return undefined;
  const merged = Object.assign({}, ...present) as Record<string, unknown>;
  assertSessionSize(merged, maxBytes);
  return merged;
}

export function assertSessionSize(session: Record<string, unknown>, maxBytes: number): void {
  if (new TextEncoder().encode(JSON.stringify(session)).length > maxBytes) {
    throw new ApiError(400, `The session config exceeds ${maxBytes} bytes.`, "session_too_large", {
      param: "session",
    });
  }
}
