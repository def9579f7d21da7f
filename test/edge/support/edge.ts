/**
 * The edge Worker in Miniflare (workerd) for tests: one instance per test
 * file. Requests carry a `cf` object so tests place callers anywhere.
 */
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { edgeWorkerOptions } from "../../../media/stack/edge-bundle.ts";

export const API_KEY = "sk-test-owner-0001";
export const OTHER_API_KEY = "sk-test-other-0002";
export const SIGNING_KEY = "1:test-signing-secret-0123456789abcdefghij";
export const TRANSCEIVER_TOKEN = "tt-internal-token";

export interface EdgeOptions {
  config?: unknown;
  vars?: Record<string, string>;
}

export interface CfInit extends RequestInit {
  cf?: Record<string, unknown>;
}

export interface Edge {
  /** Where Miniflare listens (http://127.0.0.1:port), for clients that need a real socket. */
  readonly url: string;
  /** What the Worker logged (console.log/error), oldest first. */
  readonly logs: string[];
  /** A path (on host edge.test) or a full URL. */
  fetch(pathOrUrl: string, init?: CfInit): Promise<Response>;
  /** Runs the Cron Trigger once, as if fired at `at` (epoch ms). */
  tick(at: number): Promise<void>;
  /** Clears the health Durable Object. */
  resetHealth(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startEdge(opts: EdgeOptions = {}): Promise<Edge> {
  const bindings: Record<string, string> = {
    API_KEYS: `${API_KEY},${OTHER_API_KEY}`,
    EDGE_SIGNING_KEY: SIGNING_KEY,
    TRANSCEIVER_TOKEN,
    ...(opts.config === undefined ? {} : { VOICE_EDGE_CONFIG: JSON.stringify(opts.config) }),
    ...opts.vars,
  };
  const logs: string[] = [];
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...(await edgeWorkerOptions(bindings)),
      // An empty cf object: requests carry exactly the location fields a test gives.
      cf: {},
      enableDevRegistry: false,
      // Keep the Worker's logs for assertions instead of printing them; errors still show.
      handleStructuredLogs: ({ level, message }) => {
        logs.push(message);
        if (level === "error") console.error(`[edge] ${message}`);
      },
    }),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    logs,
    fetch: (pathOrUrl, init) => {
      const url = pathOrUrl.startsWith("http") ? pathOrUrl : `http://edge.test${pathOrUrl}`;
      return mf.dispatchFetch(url, init as never) as unknown as Promise<Response>;
    },
    async tick(at) {
      const worker = await mf.getWorker();
      const r = await worker.scheduled({ scheduledTime: new Date(at), cron: "* * * * *" });
      if (r.outcome !== "ok") throw new Error(`scheduled handler outcome: ${r.outcome}`);
    },
    async resetHealth() {
      const ns = await mf.getDurableObjectNamespace("HEALTH");
      const stub = ns.get(ns.idFromName("global")) as unknown as { reset(): Promise<void> };
      await stub.reset();
    },
    dispose: () => mf.dispose(),
  };
}
