/**
 * A minimal backend for benchmarks: it returns every audio frame it gets, so a
 * session's audio flows both ways all the time. Our protocol
 * (docs/backend-protocol.md) by default; with `--realtime` an
 * OpenAI-Realtime-style server (docs/bridge.md) that answers every
 * `input_audio_buffer.append` with a `response.output_audio.delta` of the same
 * audio, in one endless response. Runs as its own process:
 * `node bench/lib/echo-backend.ts [--realtime]`; prints "ready <url>" once
 * listening on an ephemeral loopback port.
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const realtime = process.argv.includes("--realtime");
const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on("connection", (ws) => {
  let started = false;
  ws.on("message", (data, isBinary) => {
    if (!realtime) {
      if (isBinary) ws.send(data as Buffer, { binary: true });
      return;
    }
    const e = JSON.parse(String(data)) as { type: string; audio?: string };
    if (e.type !== "input_audio_buffer.append") return;
    if (!started) {
      started = true;
      ws.send(JSON.stringify({ type: "response.created", response: { id: "resp_echo" } }));
    }
    ws.send(
      `{"type":"response.output_audio.delta","response_id":"resp_echo","item_id":"item_echo","output_index":0,"content_index":0,"delta":"${e.audio}"}`,
    );
  });
});
http.listen(0, "127.0.0.1", () => {
  const port = (http.address() as { port: number }).port;
  console.log(
    realtime ? `ready realtime+ws://127.0.0.1:${port}/v1/realtime` : `ready ws://127.0.0.1:${port}/v1/agent`,
  );
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
