/**
 * Fuzzed HTTP requests (seeded) for the edge and the transceiver session API,
 * sent raw over TCP so that any method, header and body goes out as drawn
 * (fetch refuses TRACE, CONNECT and unknown methods).
 */
import { connect } from "node:net";
import type { Rng } from "./rng.ts";

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface FuzzResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Methods workerd and Node know, and some they do not. */
const METHODS = [
  "GET",
  "POST",
  "POST",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "HEAD",
  "OPTIONS",
  "PROPFIND",
  "MKCOL",
  "TRACE",
  "PURGE",
  "REPORT",
  "FOO",
  "BREW",
  "get",
  "LINK",
];

const EDGE_PATHS = [
  "/v1/realtime/calls",
  "/v1/realtime",
  "/v1/realtime/client_secrets",
  "/v1/realtime/sessions",
  "/v1/realtime/calls/rtc_x/hangup",
  "/v1/live/sessions",
  "/v1/live/sessions/x/hangup",
  "/v1/edge/health",
  "/healthz",
  "/",
  "/demo",
  "/v1",
  "/v1/realtime/calls/../../healthz",
];
const TX_PATHS = [
  "/v1/sessions",
  "/v1/sessions/w0_0123456789abcdef",
  "/v1/sessions/w0_0123456789abcdef/offer",
  "/v1/sessions/h4AAAAAAAAAAAAAAAAAAA-w0_0123456789abcdef",
  "/v1/sessions/%zz",
  "/healthz",
  "/metrics",
  "/",
];
const TYPES = [
  "application/json",
  "application/sdp",
  "multipart/form-data; boundary=x",
  "text/plain",
  "",
  "application/x-www-form-urlencoded",
];

function deepJson(rng: Rng): string {
  const n = rng.int(33, 6000);
  const open = rng.chance(0.5) ? '{"a":' : "[";
  const close = open === "[" ? "]" : "}";
  const inner = `${open.repeat(n)}1${close.repeat(n)}`;
  return rng.chance(0.5) ? `{"session": ${inner}, "sdp": "v=0"}` : inner;
}

function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, depth > 3 ? 3 : 5)) {
    case 0:
      return rng.int(-1e6, 1e6);
    case 1:
      return rng.bytes(rng.int(0, 20)).toString("latin1");
    case 2:
      return rng.pick([true, false, null]);
    case 3:
      return rng.pick(["gpt-realtime", "sdp", "session", "v=0\r\n", ""]);
    case 4:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 4); i > 0; i--)
        o[rng.pick(["session", "sdp", "model", "type", "expires_after", "audio", "ingress", "x"])] =
          randomJson(rng, depth + 1);
      return o;
    }
  }
}

function body(rng: Rng, offer: string): Buffer {
  switch (rng.int(0, 6)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.from(deepJson(rng));
    case 2:
      return Buffer.alloc(rng.pick([70_000, 300_000, 2_100_000]), 0x61); // oversize
    case 3:
      return Buffer.from(JSON.stringify(randomJson(rng)));
    case 4: {
      // A real offer, corrupted: rarely still valid, never meant to be.
      const b = Buffer.from(offer);
      for (let i = rng.int(1, 8); i > 0; i--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      return b;
    }
    case 5:
      return Buffer.from(
        `--x\r\nContent-Disposition: form-data; name="${rng.pick(["sdp", "session", "x"])}"\r\n\r\n${rng.bytes(rng.int(0, 200)).toString("latin1")}\r\n--x--\r\n`,
        "latin1",
      );
    default:
      return rng.bytes(rng.int(1, 2000));
  }
}

function segment(rng: Rng): string {
  return rng.pick([
    encodeURIComponent(rng.bytes(rng.int(1, 12)).toString("latin1")),
    "rtc_" + rng.bytes(8).toString("hex"),
    "%00",
    "..",
    "%2e%2e",
    "x".repeat(rng.int(100, 9000)),
    "offer",
    "hangup",
  ]);
}

/** One request for `target`; `auth` is a valid credential (API key or session API token). */
export function fuzzRequest(
  rng: Rng,
  target: "edge" | "transceiver",
  auth: string,
  offer: string,
): FuzzRequest {
  const base = rng.pick(target === "edge" ? EDGE_PATHS : TX_PATHS);
  let path = base;
  if (rng.chance(0.3)) path = `${base}/${segment(rng)}`;
  if (rng.chance(0.15)) path += `?${segment(rng)}=${segment(rng)}`;
  const headers: Record<string, string> = {};
  const type = rng.pick(TYPES);
  if (type) headers["content-type"] = type;
  const cred = rng.int(0, 3);
  if (cred === 0) headers.authorization = `Bearer ${auth}`;
  else if (cred === 1)
    headers.authorization = `Bearer ${rng.pick(["sk-wrong", "ek_" + rng.bytes(30).toString("base64url"), ""])}`;
  else if (cred === 2) headers.authorization = rng.bytes(rng.int(1, 40)).toString("base64");
  if (rng.chance(0.1)) headers["x-junk"] = "y".repeat(rng.int(1, 12_000));
  if (rng.chance(0.1)) headers.origin = rng.pick(["https://evil.test", "null", "http://localhost"]);
  return { method: rng.pick(METHODS), path, headers, body: body(rng, offer) };
}

/**
 * Sends one request over its own TCP connection: the answer, or why there is none ("reset": the
 * server closed the connection, e.g. while a large body was still being sent; "timeout").
 */
export function sendRaw(
  port: number,
  r: FuzzRequest,
  timeoutMs = 10_000,
): Promise<FuzzResponse | "reset" | "timeout"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, "127.0.0.1");
    let reset = false;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(parseResponse(Buffer.concat(chunks)) ?? (reset ? "reset" : "timeout"));
    };
    const timer = setTimeout(done, timeoutMs);
    s.on("connect", () => {
      const head = [`${r.method} ${r.path} HTTP/1.1`, "host: 127.0.0.1", "connection: close"];
      for (const [k, v] of Object.entries(r.headers)) head.push(`${k}: ${v}`);
      if (r.body.length > 0 || r.method === "POST") head.push(`content-length: ${r.body.length}`);
      s.write(`${head.join("\r\n")}\r\n\r\n`);
      // No half-close: Node's HTTP server drops a response still in the making when the client sends FIN.
      if (r.body.length > 0) s.write(r.body);
    });
    s.on("data", (d) => chunks.push(d));
    s.on("end", done);
    s.on("error", () => {
      reset = true;
      done();
    });
  });
}

function parseResponse(raw: Buffer): FuzzResponse | undefined {
  const text = raw.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [status, ...lines] = text.slice(0, end).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(status ?? "");
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = text.slice(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = unchunk(body);
  return { status: Number(m[1]), headers, body: Buffer.from(body, "latin1").toString("utf8") };
}

function unchunk(s: string): string {
  let out = "";
  let at = 0;
  while (at < s.length) {
    const nl = s.indexOf("\r\n", at);
    if (nl < 0) break;
    const n = Number.parseInt(s.slice(at, nl), 16);
    if (!(n > 0)) break;
    out += s.slice(nl + 2, nl + 2 + n);
    at = nl + 2 + n + 2;
  }
  return out;
}

/** Whether an error answer is JSON in OpenAI's shape. */
export function openAiShaped(r: FuzzResponse): boolean {
  if (!/^application\/json/.test(r.headers["content-type"] ?? "")) return false;
  try {
    const e = (JSON.parse(r.body) as { error?: Record<string, unknown> }).error;
    return (
      e !== undefined &&
      typeof e.message === "string" &&
      typeof e.type === "string" &&
      "param" in e &&
      "code" in e
    );
  } catch {
    return false;
  }
}
