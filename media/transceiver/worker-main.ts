/**
 * Entry point of a forked transceiver worker: waits for its configuration,
 * binds its socket, then serves requests from the session API over IPC.
 */
import { parseKeyring } from "../../shared/hint.ts";
import { createLogger } from "../runtime/log.ts";
import { parseEncapKeys } from "../wire/encap-auth.ts";
import { BackendError } from "./bridge/backends.ts";
import type { ErrorKind, Event, Notice, Reply, Request, Result, WorkerInit } from "./ipc.ts";
import { CapacityError, OfferError, SessionHost } from "./session-host.ts";

if (!process.send) throw new Error("worker-main.ts must be started by the transceiver with an IPC channel");
const send = (m: Reply | Event) => process.send!(m);

process.once("message", async (init: WorkerInit) => {
  let worker: SessionHost;
  try {
    const log = createLogger("transceiver", { cluster: init.cluster, worker: init.index });
    worker = new SessionHost({
      ...init,
      keys: parseKeyring(init.keys),
      encapKeys: parseEncapKeys(init.encapKeys),
      log,
    });
    worker.onUsage = (usage) => send({ event: "usage", usage });
    worker.sidebands = {
      send: (sideband, text) => send({ event: "sideband.out", sideband, text }),
      close: (sideband, code, reason) => send({ event: "sideband.close", sideband, code, reason }),
    };
    await worker.start();
  } catch (err) {
    send({ event: "fatal", message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  // Session count changes on its own (silence, failures): report it.
  let lastReported = -1;
  setInterval(() => {
    const load = worker.load();
    if (load.sessions !== lastReported) {
      lastReported = load.sessions;
      send({ event: "load", load });
    }
  }, 250).unref();
  process.on("message", async (r: Request | Notice) => {
    if ("notice" in r) {
      if (r.notice === "sideband.in") worker.sidebandMessage(r.sessionId, r.sideband, r.text);
      else worker.sidebandGone(r.sessionId, r.sideband);
      return;
    }
    try {
      let result: Result = null;
      switch (r.op) {
        case "create":
          result = await worker.createSession(r.req);
          break;
        case "restart":
          result = await worker.restartSession(r.sessionId, r.sdp);
          break;
        case "end":
          result = await worker.endSession(r.sessionId);
          break;
        case "list":
          result = await worker.list();
          break;
        case "stats":
          result = await worker.stats();
          break;
        case "sideband.open":
          result = worker.openSideband(r.sessionId, r.sideband);
          break;
        case "close":
          await worker.close();
          send({ id: r.id, ok: true, result: null, load: worker.load() });
          process.disconnect();
          return;
      }
      send({ id: r.id, ok: true, result, load: worker.load() });
    } catch (err) {
      const kind: ErrorKind =
        err instanceof OfferError
          ? "offer"
          : err instanceof CapacityError
            ? "capacity"
            : err instanceof BackendError
              ? "backend"
              : "internal";
      const backend = err instanceof BackendError ? { status: err.status, code: err.code } : {};
      send({
        id: r.id,
        ok: false,
        error: { kind, message: err instanceof Error ? err.message : String(err), ...backend },
        load: worker.load(),
      });
    }
  });
  send({ event: "ready", load: worker.load() });
});
// The parent is gone: nothing can reach our sessions' API any more.
process.on("disconnect", () => process.exit(0));
