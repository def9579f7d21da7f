/**
 * Reads a request body up to a byte limit, failing with 413 as soon as the
 * limit is passed (by Content-Length or while streaming), so an oversized
 * upload is never buffered whole.
 */
import { MAX_JSON_DEPTH, parseBoundedJson } from "../../shared/json-bounds.ts";
import { ApiError, tooLarge } from "./errors.ts";

export async function readCapped(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await reader.read().catch(() => {
      throw new ApiError(400, "The request body could not be read.", "invalid_body");
    });
    if (chunk.done) break;
    total += chunk.value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(chunk.value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** The media type of a Content-Type header, lowercased, without parameters. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** A JSON object body (or an empty body as {}), within the limit; 400 otherwise. */
export async function readJsonObject(req: Request, limit: number): Promise<Record<string, unknown>> {
  const type = mediaType(req.headers.get("content-type"));
  const bytes = await readCapped(req, limit);
  if (bytes.length === 0) return {};
  // Browsers label a string body text/plain unless told otherwise; the content decides.
  if (type !== "" && type !== "application/json" && type !== "text/plain") {
    throw new ApiError(
      415,
      `Unsupported content type '${type}': send application/json.`,
      "unsupported_content_type",
    );
  }
  const value = parseJson(new TextDecoder().decode(bytes), null);
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiError(400, "The request body must be a JSON object.", "invalid_json");
  }
  return value as Record<string, unknown>;
}

/**
 * JSON text from the client, parsed within the depth bound (shared/json-bounds.ts), so nothing the
 * edge forwards or signs can overflow a stack further on; 400 otherwise.
 */
export function parseJson(text: string, param: string | null): unknown {
  const r = parseBoundedJson(text);
  if (r.ok) return r.value;
  const what = param ? `The '${param}' field` : "The request body";
  if (r.reason === "depth")
    throw new ApiError(400, `${what} nests deeper than ${MAX_JSON_DEPTH} levels.`, "json_too_deep", {
      param,
    });
  throw new ApiError(400, `${what} is not valid JSON.`, param ? "invalid_value" : "invalid_json", { param });
}
