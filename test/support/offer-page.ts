/**
 * A page on http://127.0.0.1 (a secure context, so getUserMedia works) whose
 * POST /offer creates a transceiver session from the browser's SDP offer and
 * answers its JSON: lets a browser test or benchmark talk to the internal
 * session API without CORS.
 */
import { createServer } from "node:http";
import { txFetch } from "./stack.ts";

export interface OfferPage {
  url: string;
  close(): void;
}

export async function startOfferPage(
  transceiverUrl: string,
  o: { session?: unknown; html?: string } = {},
): Promise<OfferPage> {
  const server = createServer(async (req, res) => {
    if (req.method === "POST" && req.url === "/offer") {
      let sdp = "";
      for await (const chunk of req) sdp += chunk;
      const r = await txFetch(`${transceiverUrl}/v1/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sdp, session: o.session }),
      });
      res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text());
      return;
    }
    res
      .writeHead(200, { "content-type": "text/html" })
      .end(o.html ?? "<!doctype html><title>voice-edge test</title>");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/`, close: () => server.close() };
}
