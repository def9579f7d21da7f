/**
 * GET / and GET /demo: the demo page (docs/demo.md), served by the Worker itself, under a strict CSP
 * (inline style and script allowed by a per-response nonce; fetches to this origin only).
 */
import type { AppContext } from "../app-env.ts";
import { demoConfig, renderDemoPage } from "./render.ts";

export function demoPage(c: AppContext): Response {
  const nonce = nonceValue();
  return new Response(renderDemoPage(demoConfig(c.env), nonce), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "permissions-policy": "microphone=(self), camera=(), geolocation=()",
      "content-security-policy": [
        "default-src 'none'",
        `script-src 'nonce-${nonce}'`,
        `style-src 'nonce-${nonce}'`,
        "connect-src 'self'",
        "media-src 'self' blob: mediastream:",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join("; "),
    },
  });
}

function nonceValue(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}
