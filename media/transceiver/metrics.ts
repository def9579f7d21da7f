/** Prometheus metrics of a transceiver host, read from its workers when scraped. */
import { Gauge, Registry } from "prom-client";
import { DROP_REASONS } from "./demux.ts";
import type { TransceiverPool } from "./pool.ts";

export function transceiverMetrics(pool: TransceiverPool): Registry {
  const registry = new Registry();
  const labels = ["worker"] as const;
  // One scrape reads every worker once; this gauge's collect fills them all.
  const sessions = new Gauge({
    name: "voice_edge_transceiver_sessions",
    help: "Live sessions",
    labelNames: labels,
    registers: [registry],
    collect: () => scrape(),
  });
  const capacity = new Gauge({
    name: "voice_edge_transceiver_capacity",
    help: "Session capacity",
    labelNames: labels,
    registers: [registry],
  });
  const packetsIn = new Gauge({
    name: "voice_edge_transceiver_packets_in_total",
    help: "Datagrams received from relays",
    labelNames: labels,
    registers: [registry],
  });
  const bytesIn = new Gauge({
    name: "voice_edge_transceiver_bytes_in_total",
    help: "Bytes received from relays",
    labelNames: labels,
    registers: [registry],
  });
  const packetsOut = new Gauge({
    name: "voice_edge_transceiver_packets_out_total",
    help: "Datagrams sent to relays",
    labelNames: labels,
    registers: [registry],
  });
  const bytesOut = new Gauge({
    name: "voice_edge_transceiver_bytes_out_total",
    help: "Bytes sent to relays",
    labelNames: labels,
    registers: [registry],
  });
  const drops = new Gauge({
    name: "voice_edge_transceiver_drops_total",
    help: "Datagrams dropped by the demux, by reason",
    labelNames: ["worker", "reason"],
    registers: [registry],
  });
  const created = new Gauge({
    name: "voice_edge_transceiver_sessions_created_total",
    help: "Sessions created",
    labelNames: labels,
    registers: [registry],
  });
  const closed = new Gauge({
    name: "voice_edge_transceiver_sessions_closed_total",
    help: "Sessions closed, by reason",
    labelNames: ["worker", "reason"],
    registers: [registry],
  });
  const scrape = async () => {
    await Promise.all(
      pool.workers.map(async (w) => {
        const worker = String(w.index);
        const load = w.load();
        sessions.set({ worker }, load.sessions);
        capacity.set({ worker }, load.capacity);
        const s = await w.stats().catch(() => undefined);
        if (!s) return;
        packetsIn.set({ worker }, s.demux.packets);
        bytesIn.set({ worker }, s.demux.bytes);
        packetsOut.set({ worker }, s.socket.sent);
        bytesOut.set({ worker }, s.socket.sentBytes);
        created.set({ worker }, s.sessionsCreated);
        for (const reason of DROP_REASONS) drops.set({ worker, reason }, s.demux.drops[reason]);
        for (const [reason, n] of Object.entries(s.sessionsClosed)) closed.set({ worker, reason }, n);
      }),
    );
  };
  return registry;
}
