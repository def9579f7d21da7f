/**
 * Opens a backend's WebSocket, whatever its protocol: resolves once it is
 * open, rejects with a BackendError (503) if the backend is not there,
 * answers HTTP instead of upgrading, closes, or takes longer than the timeout.
 */
import WebSocket from "ws";
import { BackendError } from "./backends.ts";

export function openBackendSocket(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  model: string,
): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(`the backend did not accept the connection within ${timeoutMs} ms`);
      ws.terminate();
    }, timeoutMs);
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(unavailable(model, why));
    };
    ws.once("unexpected-response", (_req, res) => {
      fail(`it answered HTTP ${res.statusCode}`);
      ws.terminate();
    });
    ws.once("error", (err) => fail(err.message || String(err)));
    ws.once("close", (code) => fail(`it closed the connection (${code})`));
    ws.once("open", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners("error");
      ws.removeAllListeners("close");
      ws.removeAllListeners("unexpected-response");
      resolve(ws);
    });
  });
}

/** The session cannot be created: its backend is not there (HTTP 503 backend_unavailable). */
export function unavailable(model: string, why: string): BackendError {
  return new BackendError(503, "backend_unavailable", `backend for model "${model}" unavailable: ${why}`);
}
