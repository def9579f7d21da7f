/**
 * A media path on loopback for tests and benchmarks: one relay in-process and
 * one transceiver host as a child process (`voice-edge transceiver`), so the
 * worker's sockets can be counted from /proc.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { type Relay, startRelay } from "../../media/relay/server.ts";
import { SessionHost, type WorkerOptions } from "../../media/transceiver/session-host.ts";
import { parseKeyring } from "../../shared/hint.ts";
import { DEV_SESSION_API_TOKEN } from "../../shared/session-api.ts";
import { untilLogged } from "./child-log.ts";
import { ENCAP_KEYS_SPEC, encapKeys, testIo } from "./relay-fixtures.ts";

export const TEST_KEYS = `7:${"5e".repeat(24)}`;

/**
 * fetch() for a transceiver's session API with a bearer token: by default the built-in dev token,
 * which a transceiver spawned here (on loopback, without --token) requires.
 */
export function txFetch(
  url: string,
  init: RequestInit = {},
  token = DEV_SESSION_API_TOKEN,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  return fetch(url, { ...init, headers });
}

/** POST /v1/sessions on a transceiver host (its session API): the offer and session config as JSON. */
export function postSession(
  url: string,
  body: { sdp: string; session?: unknown },
  token?: string,
): Promise<Response> {
  return txFetch(
    `${url}/v1/sessions`,
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    token,
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export interface SpawnedTransceiver {
  url: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function spawnTransceiver(o: {
  cluster: number;
  ingress: string;
  workers?: number;
  capacity?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}): Promise<SpawnedTransceiver> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "bin/voice-edge.js",
      "transceiver",
      "--cluster",
      String(o.cluster),
      "--keys",
      TEST_KEYS,
      "--encap-keys",
      ENCAP_KEYS_SPEC,
      "--listen",
      `127.0.0.1:${port}`,
      "--workers",
      String(o.workers ?? 1),
      "--ingress",
      o.ingress,
      "--capacity",
      String(o.capacity ?? 200),
      ...(o.extraArgs ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, VOICE_EDGE_LOG_LEVEL: "info", ...o.env } },
  );
  const { exited } = await untilLogged(child, "transceiver", "transceiver ready");
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export async function startTestRelay(cluster: number): Promise<Relay> {
  return startRelay({
    io: testIo(),
    cluster,
    keys: parseKeyring(TEST_KEYS),
    encapKeys,
    listen: { address: "127.0.0.1", port: 0 },
    internal: { address: "127.0.0.1", port: 0 },
  });
}

export interface RelayedTransceiver {
  relay: Relay;
  tx: SpawnedTransceiver;
  close(): Promise<void>;
}

/** An in-process relay of `cluster` and a transceiver host whose answers advertise it. */
export async function startRelayedTransceiver(
  cluster: number,
  o: Omit<Parameters<typeof spawnTransceiver>[0], "cluster" | "ingress"> = {},
): Promise<RelayedTransceiver> {
  const relay = await startTestRelay(cluster);
  const tx = await spawnTransceiver({ cluster, ingress: `127.0.0.1:${relay.publicAddress.port}`, ...o });
  return {
    relay,
    tx,
    async close() {
      await tx.stop("SIGINT");
      await relay.close();
    },
  };
}

/** A started in-process session host (one worker's socket and sessions) whose answers advertise `relay`. */
export async function startTestHost(
  relay: Relay,
  o: Partial<WorkerOptions> & { cluster: number },
): Promise<SessionHost> {
  const host = new SessionHost({
    index: 0,
    keys: parseKeyring(TEST_KEYS),
    encapKeys,
    bindHost: "127.0.0.1",
    bindPort: 0,
    ingress: relay.publicAddress,
    capacity: 10,
    silenceTimeoutMs: 30_000,
    ...o,
  });
  await host.start();
  return host;
}
