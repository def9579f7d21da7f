/**
 * A stand-in for a cluster's transceiver session API on 127.0.0.1, following
 * the internal contract (docs/edge.md). Tests switch its behaviour and read
 * what the edge sent it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer } from "ws";
import { answerFor } from "./sdp.ts";

export type Mode = "ok" | "full" | "slow" | "error" | "bad-offer" | "draining" | "wrong-cluster";

export interface Received {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
  /** Sec-WebSocket-Protocol of an upgrade. */
  protocol?: string | undefined;
}

export class FakeTransceiver {
  mode: Mode = "ok";
  readonly received: Received[] = [];
  readonly sessions = new Set<string>();
  /** Every session id handed out, in order. */
  readonly created: string[] = [];
  private server: Server | undefined;
  /** What the sideband route answers an upgrade for a known session: accept, or 409 (limit). */
  sideband: "accept" | "limit" = "accept";
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) => (p.has("realtime") ? "realtime" : false),
  });
  private nextId = 1;
  port = 0;
  readonly cluster: number;

  constructor(cluster: number) {
    this.cluster = cluster;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts listening (again, on the same port after stop()). */
  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on("upgrade", (req, socket, head) => this.upgrade(req, socket as Socket, head));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops accepting and drops open connections: callers now get connection refused. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    for (const ws of this.wss.clients) ws.terminate();
    await closed;
  }

  reset(): void {
    this.mode = "ok";
    this.sideband = "accept";
    this.received.length = 0;
  }

  creates(): Received[] {
    return this.received.filter((r) => r.method === "POST" && r.path === "/v1/sessions");
  }

  /**
   * GET /v1/sessions/{id}/sideband: for a session it holds, a WebSocket that greets with a
   * `session.created` naming the session, then echoes each message as {"type":"echo","text"}.
   */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = req.url ?? "/";
    this.received.push({
      method: "UPGRADE",
      path,
      authorization: req.headers.authorization,
      body: undefined,
      protocol: req.headers["sec-websocket-protocol"],
    });
    const m = /^\/v1\/sessions\/([A-Za-z0-9_-]+)\/sideband$/.exec(path);
    const refuse = (status: number, code: string) => {
      const body = JSON.stringify({ error: err(code, "invalid_request_error", code) });
      socket.end(
        `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    };
    if (!m || !this.sessions.has(m[1]!)) {
      refuse(404, "session_not_found");
      return;
    }
    if (this.sideband === "limit") {
      refuse(409, "sideband_limit");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ type: "session.created", session: { id: m[1] } }));
      ws.on("message", (d) => ws.send(JSON.stringify({ type: "echo", text: String(d) })));
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = "";
    for await (const chunk of req) text += chunk;
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const path = req.url ?? "/";
    this.received.push({ method: req.method ?? "", path, authorization: req.headers.authorization, body });
    if (this.mode === "slow") return; // never answers; the edge's timeout must cut it off

    if (req.method === "GET" && path === "/healthz") {
      if (this.mode === "error") return json(res, 500, { status: "error" });
      if (this.mode === "draining") return json(res, 503, { status: "draining", cluster: this.cluster });
      const cluster = this.mode === "wrong-cluster" ? this.cluster + 100 : this.cluster;
      const full = this.mode === "full";
      return json(res, 200, { status: "ok", cluster, sessions: this.sessions.size, capacity: 100, full });
    }
    if (req.method === "POST" && path === "/v1/sessions") {
      if (this.mode === "error") return json(res, 500, { error: err("internal", "server_error", null) });
      if (this.mode === "full" || this.mode === "draining") {
        res.setHeader("retry-after", "7");
        return json(res, 503, { error: err("cluster full", "server_error", "capacity_exceeded") });
      }
      if (this.mode === "bad-offer")
        return json(res, 400, { error: err("no audio m-line", "invalid_request_error", "invalid_offer") });
      const { ingress } = body as { ingress: string };
      const id = `s${this.cluster}_${this.nextId++}`;
      this.sessions.add(id);
      this.created.push(id);
      const ufrag = `uf${this.cluster}x${id}`;
      return json(res, 201, { id, sdp: answerFor(ufrag, ingress), ufrag, worker: 0, ingress });
    }
    const restart = /^\/v1\/sessions\/([A-Za-z0-9_-]+)\/offer$/.exec(path);
    if (req.method === "POST" && restart) {
      if (this.mode === "error") return json(res, 500, { error: err("internal", "server_error", null) });
      if (!this.sessions.has(restart[1]!))
        return json(res, 404, {
          error: err("no such session", "invalid_request_error", "session_not_found"),
        });
      if (this.mode === "bad-offer")
        return json(res, 400, { error: err("no audio m-line", "invalid_request_error", "invalid_offer") });
      const id = restart[1]!;
      const ufrag = `uf${this.cluster}r${this.nextId++}`;
      return json(res, 200, {
        id,
        sdp: answerFor(ufrag, "192.0.2.1:3478"),
        ufrag,
        worker: 0,
        ingress: "192.0.2.1:3478",
      });
    }
    const m = /^\/v1\/sessions\/([A-Za-z0-9_-]+)$/.exec(path);
    if (req.method === "DELETE" && m) {
      if (this.mode === "error") return json(res, 500, { error: err("internal", "server_error", null) });
      if (!this.sessions.delete(m[1]!))
        return json(res, 404, { error: err("unknown session", "invalid_request_error", "not_found") });
      res.writeHead(204).end();
      return;
    }
    json(res, 404, { error: err("no route", "invalid_request_error", null) });
  }
}

function err(message: string, type: string, code: string | null) {
  return { message, type, code, param: null };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
