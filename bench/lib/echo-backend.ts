/**
 * A minimal backend for benchmarks (docs/backend-protocol.md): it returns
 * every audio frame it gets, so a session's audio flows both ways all the
 * time. Runs as its own process: `node bench/lib/echo-backend.ts`; prints
 * "ready ws://..." once listening on an ephemeral loopback port.
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on("connection", (ws) =>
  ws.on("message", (data, isBinary) => {
    if (isBinary) ws.send(data as Buffer, { binary: true });
  }),
);
http.listen(0, "127.0.0.1", () => {
  console.log(`ready ws://127.0.0.1:${(http.address() as { port: number }).port}/v1/agent`);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
