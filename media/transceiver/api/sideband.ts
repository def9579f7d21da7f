/**
 * GET /v1/sessions/{id}/sideband: the WebSocket the edge proxies a call's
 * sideband to. A thin shell: the token and the id are checked as on the other
 * routes, the owning worker decides whether the sideband may attach
 * (bridge/sideband-hub.ts), and then frames go both ways over the worker's IPC
 * (sideband-sockets.ts). A session of another host of the cluster is proxied
 * there once. Refusals are HTTP answers in the API's error shape.
 */
import { type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { type RawData, WebSocketServer } from "ws";
import { formatEndpoint } from "../../../shared/ip.ts";
import { sidebandPath } from "../../../shared/session-api.ts";
import { apiError } from "../../runtime/api-error.ts";
import type { Logger } from "../../runtime/log.ts";
import type { TransceiverPool } from "../pool.ts";
import type { SidebandOpen } from "../session-host.ts";
import type { HostAddress } from "../session-id.ts";
import type { SidebandSockets } from "../sideband-sockets.ts";
import { tokenCheck } from "./auth.ts";
import { sessionNotFound } from "./errors.ts";
import { FORWARDED } from "./forward.ts";

const ROUTE = /^\/v1\/sessions\/([^/]+)\/sideband$/;
/**
 * The largest frame a sideband may send: above the 256 KiB a client event may have (a bigger event
 * gets an `error` event back), below what would let one sideband hold much of a worker's memory.
 * Larger frames close the sideband with 1009; the call goes on.
 */
export const MAX_SIDEBAND_FRAME = 512 * 1024;
const FORWARD_TIMEOUT_MS = 2000;

export interface SidebandRouteOptions {
  pool: TransceiverPool;
  token: string;
  sockets: SidebandSockets;
  log: Logger;
}

export function serveSidebands(server: Server, o: SidebandRouteOptions): void {
  const check = tokenCheck(o.token);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_SIDEBAND_FRAME,
    perMessageDeflate: false,
    // The edge passes the `realtime` subprotocol on when the client offered it.
    handleProtocols: (protocols) => (protocols.has("realtime") ? "realtime" : false),
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    upgrade(req, socket, head).catch((err: unknown) => {
      o.log.error({ err: String(err) }, "sideband upgrade failed");
      void refuse(socket, apiError(500, "internal_error", "the sideband could not be opened"));
    });
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const m = ROUTE.exec(path);
    if (!m || req.headers.upgrade?.toLowerCase() !== "websocket")
      return refuse(socket, apiError(404, "not_found", `no WebSocket route for ${path.slice(0, 100)}`));
    const refused = check(req.headers.authorization);
    if (refused) return refuse(socket, refused);
    const id = safeDecode(m[1]!);
    const route = id === undefined ? undefined : o.pool.resolve(id);
    if (!route) return refuse(socket, sessionNotFound());
    if ("remote" in route)
      return req.headers[FORWARDED]
        ? refuse(socket, sessionNotFound())
        : proxy(req, socket, head, route.remote, id!);
    const local = route.local;
    const worker = o.pool.workerOf(local);
    if (worker === undefined) return refuse(socket, sessionNotFound());
    const sb = o.sockets.reserve(worker, local);
    const gone = () => {
      o.sockets.remove(sb);
      o.pool.sidebandGone(local, sb);
    };
    // The worker attaches (and starts sending) before the upgrade completes; the table holds that.
    const r: SidebandOpen = await o.pool.openSideband(local, sb).catch(() => "not-found" as const);
    if (r !== "attached") {
      o.sockets.remove(sb);
      return refuse(socket, refusal(r));
    }
    if (socket.destroyed) return gone();
    // A handshake ws refuses (a bad key, say) never calls back: the socket's close frees the slot.
    socket.once("close", gone);
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off("close", gone);
      ws.on("error", () => {});
      ws.on("message", (data) => {
        o.sockets.stats.eventsIn++;
        o.pool.sidebandIn(local, sb, text(data));
      });
      ws.on("close", gone);
      o.sockets.open(sb, ws);
    });
  }

  /** A session of another host of the cluster: open the sideband there, then pass frames through. */
  function proxy(req: IncomingMessage, socket: Duplex, head: Buffer, host: HostAddress, id: string): void {
    const offered = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p === "realtime");
    const up = new WebSocket(`ws://${formatEndpoint(host)}${sidebandPath(id)}`, offered, {
      headers: { authorization: `Bearer ${o.token}`, [FORWARDED]: "1" },
      maxPayload: MAX_SIDEBAND_FRAME,
      perMessageDeflate: false,
      handshakeTimeout: FORWARD_TIMEOUT_MS,
    });
    let answered = false;
    up.on("unexpected-response", (_r, res) => {
      answered = true;
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => {
        void refuse(
          socket,
          new Response(body, {
            status: res.statusCode ?? 502,
            headers: { "content-type": "application/json" },
          }),
        );
        up.terminate();
      });
    });
    up.on("error", (err) => {
      if (answered) return;
      answered = true;
      void refuse(
        socket,
        apiError(502, "transceiver_unreachable", `the session's host did not answer: ${err.message}`),
      );
    });
    up.on("open", () => {
      answered = true;
      wss.handleUpgrade(req, socket, head, (ws) => pipe(ws, up));
    });
  }
}

/** Frames and closes both ways between two sockets. */
function pipe(a: WebSocket, b: WebSocket): void {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    from.on("error", () => {});
    from.on("message", (data, isBinary) => {
      if (to.readyState === WebSocket.OPEN) to.send(data, { binary: isBinary });
    });
    from.on("close", (code, reason) => {
      // 1005/1006 say no code was sent or the connection dropped; neither may be sent on.
      if (to.readyState === WebSocket.OPEN || to.readyState === WebSocket.CONNECTING)
        to.close(code === 1005 || code === 1006 ? 1011 : code, reason);
    });
  }
}

function refusal(r: Exclude<SidebandOpen, "attached">): Response {
  if (r === "full")
    return apiError(409, "sideband_limit", "this call has as many sidebands as it may have (4)");
  if (r === "no-events")
    return apiError(409, "no_events", "this session has no event stream (echo mode): nothing to attach to");
  return sessionNotFound();
}

function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  return Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data).toString("utf8");
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** An HTTP answer on a socket that asked to upgrade. */
async function refuse(socket: Duplex, res: Response): Promise<void> {
  const body = await res.text();
  if (!socket.writable) return;
  const reason = STATUS_CODES[res.status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${res.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
