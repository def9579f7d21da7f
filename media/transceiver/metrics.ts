/** Prometheus metrics of a transceiver host, read from its workers when scraped. */
import { Gauge, Registry } from "prom-client";
import { DROP_REASONS } from "./demux.ts";
import type { TransceiverPool } from "./pool.ts";

export function transceiverMetrics(pool: TransceiverPool): Registry {
  const registry = new Registry();
  // prom-client collects metrics concurrently: every gauge awaits the same scrape, which reads each worker once.
  let pending: Promise<void> | undefined;
  const scrapeOnce = () => {
    pending ??= scrape().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  const gauge = (name: string, help: string, labelNames: string[] = ["worker"]) =>
    new Gauge({
      name: `voice_edge_transceiver_${name}`,
      help,
      labelNames,
      registers: [registry],
      collect: scrapeOnce,
    });

  const sessions = gauge("sessions", "Live sessions");
  const capacity = gauge("capacity", "Session capacity");
  const packetsIn = gauge("packets_in_total", "Datagrams received from relays");
  const bytesIn = gauge("bytes_in_total", "Bytes received from relays");
  const packetsOut = gauge("packets_out_total", "Datagrams sent to relays");
  const bytesOut = gauge("bytes_out_total", "Bytes sent to relays");
  const drops = gauge("drops_total", "Datagrams dropped by the demux, by reason", ["worker", "reason"]);
  const created = gauge("sessions_created_total", "Sessions created");
  const closed = gauge("sessions_closed_total", "Sessions closed, by reason", ["worker", "reason"]);
  const quality = gauge(
    "session_quality",
    "Call quality over connected sessions, from RTCP: RTT and jitter (avg/max, seconds), inbound packets received and lost",
    ["worker", "stat"],
  );

  async function scrape(): Promise<void> {
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
        const q = s.quality;
        quality.set({ worker, stat: "rtt_avg_seconds" }, q.rttAvg ?? Number.NaN);
        quality.set({ worker, stat: "rtt_max_seconds" }, q.rttMax ?? Number.NaN);
        quality.set({ worker, stat: "jitter_avg_seconds" }, q.jitterAvg ?? Number.NaN);
        quality.set({ worker, stat: "jitter_max_seconds" }, q.jitterMax ?? Number.NaN);
        quality.set({ worker, stat: "inbound_packets_lost" }, q.packetsLost);
        quality.set({ worker, stat: "inbound_packets_received" }, q.packetsReceived);
        for (const reason of DROP_REASONS) drops.set({ worker, reason }, s.demux.drops[reason]);
        for (const [reason, n] of Object.entries(s.sessionsClosed)) closed.set({ worker, reason }, n);
      }),
    );
  }
  return registry;
}
