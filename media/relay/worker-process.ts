/**
 * One relay worker process under a supervisor (supervisor.ts): it gets its
 * configuration over IPC, runs startRelay with SO_REUSEPORT on the shared
 * public port, answers snapshot requests, drains when told, and exits when
 * the supervisor goes away. Workers share nothing but Redis.
 */
import { createLogger } from "../runtime/log.ts";
import type { IoBackend } from "../udp-batch/io-choice.ts";
import type { RelaySnapshot } from "./metrics.ts";
import { type Relay, startRelay } from "./server.ts";
import { relayOptionsOf, type WorkerInit } from "./worker-init.ts";

export type ToWorker =
  | { type: "init"; init: WorkerInit }
  | { type: "snapshot"; id: number }
  | { type: "drain"; timeoutMs: number };

export type FromWorker =
  | {
      type: "ready";
      public: { address: string; port: number };
      internal: { address: string; port: number };
      tcp?: { address: string; port: number };
      /** The I/O backend it runs. */
      io: IoBackend;
    }
  | { type: "snapshot"; id: number; snapshot: RelaySnapshot }
  | { type: "closed"; snapshot: RelaySnapshot }
  | { type: "failed"; error: string };

async function run(): Promise<void> {
  const send = (m: FromWorker) => process.send?.(m);
  let relay: Relay | undefined;
  let closing = false;
  // The supervisor is gone (killed, crashed): nobody would restart or drain us.
  process.on("disconnect", () => {
    void (relay?.close() ?? Promise.resolve()).finally(() => process.exit());
  });
  process.on("SIGINT", () => {}); // Ctrl-C reaches the whole group: the supervisor decides.
  process.on("SIGTERM", () => {});
  process.on("message", (m: ToWorker) => {
    if (m.type === "init") {
      const init = m.init;
      const log = createLogger("relay", { worker: init.worker });
      startRelay({
        ...relayOptionsOf(init),
        reusePort: true,
        worker: init.worker,
        logger: log,
        lifecycleLogs: false,
      })
        .then((r) => {
          relay = r;
          send({
            type: "ready",
            public: r.publicAddress,
            internal: r.internalAddress,
            tcp: r.tcpAddress,
            io: r.io,
          });
        })
        .catch((err: unknown) => {
          send({ type: "failed", error: err instanceof Error ? err.message : String(err) });
          process.exitCode = 1;
          process.disconnect?.();
        });
    } else if (m.type === "snapshot") {
      if (relay) send({ type: "snapshot", id: m.id, snapshot: relay.snapshot() });
    } else if (m.type === "drain" && !relay) {
      process.exit(0); // told to stop before it listened: nothing to drain
    } else if (m.type === "drain" && !closing) {
      closing = true;
      const r = relay!;
      void r.drain(m.timeoutMs).then(() => {
        send({ type: "closed", snapshot: r.snapshot() });
        process.disconnect?.();
      });
    }
  });
}

if (process.send) await run();
