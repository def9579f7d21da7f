/** Random, URL-safe identifiers ("sess_…", "req_…"). */
import { encodeBase64Url } from "../../shared/base64.ts";

export function randomId(prefix: string, bytes = 12): string {
  return prefix + encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}
