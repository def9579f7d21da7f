/**
 * The signaling edge Worker on this machine, in Miniflare (workerd), served
 * over HTTP like `wrangler dev`, and over HTTPS too when asked (tls.ts). The
 * Cron Trigger is fired on a timer here, since nothing else drives it locally.
 */
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import type { Logger } from "../runtime/log.ts";
import { edgeWorkerOptions } from "./edge-bundle.ts";
import { localCertificate, startTlsFront, type TlsFront } from "./tls.ts";

export interface LocalEdge {
  url: string;
  /** The same Worker over HTTPS/WSS, and the certificate a client must trust for it. */
  https?: { url: string; certPath: string };
  probe(): Promise<void>;
  close(): Promise<void>;
}

export interface LocalEdgeOptions {
  host: string;
  port: number;
  /** The Worker's VOICE_EDGE_CONFIG (pools, ingresses, monitors); docs/edge.md. */
  config: unknown;
  apiKeys?: string;
  signingKey?: string;
  /** Bearer token of the transceivers' session API (TRANSCEIVER_TOKEN). */
  transceiverToken: string;
  /** How often to run the health monitors (the Cron Trigger). */
  probeEveryMs: number;
  /** request.cf every local request gets (e.g. a latitude/longitude to steer by). */
  cf?: Record<string, unknown>;
  /** Also serve HTTPS on this port (0: any free port), with the certificate kept in tlsDir. */
  https?: { port: number; tlsDir: string };
  log: Logger;
}

export async function startLocalEdge(o: LocalEdgeOptions): Promise<LocalEdge> {
  const bindings: Record<string, string> = {
    VOICE_EDGE_ENV: "dev",
    VOICE_EDGE_CONFIG: JSON.stringify(o.config),
    TRANSCEIVER_TOKEN: o.transceiverToken,
  };
  if (o.apiKeys) bindings.API_KEYS = o.apiKeys;
  if (o.signingKey) bindings.EDGE_SIGNING_KEY = o.signingKey;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...(await edgeWorkerOptions(bindings)),
      host: o.host,
      port: o.port,
      // Where callers appear to be; without one, Miniflare's placeholder (false: never fetched from the network).
      cf: o.cf ?? false,
      handleStructuredLogs: ({ level, message }) => {
        if (level === "error") o.log.error({ component: "edge" }, message);
        else o.log.debug({ component: "edge" }, message);
      },
    }),
  );
  const ready = await mf.ready;
  const url = ready.toString().replace(/\/$/, "");
  let tls: TlsFront | undefined;
  let certPath: string | undefined;
  // No certificate (no openssl here): the stack still runs, over HTTP only, and says so.
  let certificate: ReturnType<typeof localCertificate> | undefined;
  if (o.https) {
    try {
      certificate = localCertificate(o.https.tlsDir, o.host);
    } catch (err) {
      o.log.warn({ component: "edge", err: (err as Error).message }, "edge: HTTPS/WSS off, HTTP only");
    }
  }
  if (o.https && certificate) {
    try {
      certPath = certificate.certPath;
      tls = await startTlsFront({
        host: o.host,
        port: o.https.port,
        target: { address: ready.hostname.replace(/^\[|\]$/g, ""), port: Number(ready.port) },
        certificate,
      });
    } catch (err) {
      await mf.dispose();
      throw err;
    }
  }
  const probe = async () => {
    const worker = await mf.getWorker();
    await worker.scheduled({ scheduledTime: new Date(), cron: "* * * * *" });
  };
  const timer = setInterval(() => {
    probe().catch((err) => o.log.warn({ component: "edge", err: String(err) }, "health probe run failed"));
  }, o.probeEveryMs);
  timer.unref();
  return {
    url,
    https: tls && certPath ? { url: tls.url, certPath } : undefined,
    probe,
    async close() {
      clearInterval(timer);
      await tls?.close();
      await mf.dispose();
    },
  };
}
