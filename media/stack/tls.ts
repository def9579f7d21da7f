/**
 * HTTPS/WSS for the local edge: the `openai` package's Realtime WebSocket
 * clients build `wss://` URLs whatever the base URL says, so `voice-edge stack`
 * also serves the edge over TLS. The certificate is this machine's own,
 * self-signed for the stack's host names (made once with openssl and kept, so a
 * client trusts it once: NODE_EXTRA_CA_CERTS=<cert>), and it is a leaf
 * (CA:FALSE): trusting it lets nothing else be signed. TLS ends in front of the
 * Worker's HTTP port, byte for byte (WebSocket upgrades included), so both ports
 * serve the same Worker and the same health state.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { connect, isIP } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { formatEndpoint } from "../../shared/ip.ts";

export interface LocalCertificate {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/** Where the stack keeps its certificate unless the topology names a directory. */
export function defaultTlsDir(env = process.env): string {
  const state = env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(state, "voice-edge", "tls");
}

/** The names a certificate for `host` must cover (loopback under every name a client may use). */
export function certificateNames(host: string): string[] {
  const names = new Set(["localhost", "127.0.0.1", "::1"]);
  if (host !== "0.0.0.0" && host !== "::") names.add(host);
  return [...names];
}

/** Whether `pem` covers every name and stays valid for at least a day more. */
export function certificateFits(pem: string, names: string[], nowMs = Date.now()): boolean {
  try {
    const x = new X509Certificate(pem);
    if (Date.parse(x.validTo) < nowMs + 86_400_000) return false;
    return names.every((n) => (isIP(n) ? x.checkIP(n) : x.checkHost(n)) !== undefined);
  } catch {
    return false;
  }
}

/** The certificate in `dir`, made (or made again, if it no longer fits) with openssl. */
export function localCertificate(dir: string, host: string): LocalCertificate {
  const certPath = join(dir, "edge-cert.pem");
  const keyPath = join(dir, "edge-key.pem");
  const names = certificateNames(host);
  if (
    !(existsSync(certPath) && existsSync(keyPath) && certificateFits(readFileSync(certPath, "utf8"), names))
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "825",
          "-subj",
          "/CN=voice-edge local stack",
          "-addext",
          `subjectAltName=${san}`,
          "-addext",
          "basicConstraints=critical,CA:FALSE",
          "-addext",
          "keyUsage=critical,digitalSignature",
          "-addext",
          "extendedKeyUsage=serverAuth",
          "-keyout",
          keyPath,
          "-out",
          certPath,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
    } catch (err) {
      throw new Error(
        `the edge's HTTPS port needs a certificate and openssl could not make one (${(err as Error).message.split("\n")[0]}); install openssl, or set edge.httpsPort to 0`,
      );
    }
    chmodSync(keyPath, 0o600);
  }
  return { certPath, keyPath, cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
}

export interface TlsFront {
  url: string;
  close(): Promise<void>;
}

/** Listens on host:port with TLS and passes each connection's bytes to `target` (the Worker's HTTP port). */
export async function startTlsFront(o: {
  host: string;
  port: number;
  target: { address: string; port: number };
  certificate: LocalCertificate;
}): Promise<TlsFront> {
  const open = new Set<{ destroy(): void }>();
  const server: Server = createServer({ cert: o.certificate.cert, key: o.certificate.key }, (clear) => {
    const up = connect(o.target.port, o.target.address);
    open.add(clear);
    clear.once("close", () => open.delete(clear));
    clear.pipe(up).pipe(clear);
    const drop = () => {
      clear.destroy();
      up.destroy();
    };
    clear.on("error", drop);
    up.on("error", drop);
    clear.on("close", drop);
    up.on("close", drop);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  return {
    url: `https://${formatEndpoint({ address: o.host, port })}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}
