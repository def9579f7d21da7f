/**
 * Prometheus metrics of a transceiver host: counters read from its workers when
 * scraped, and per-session usage (duration, close cause, audio seconds) as the
 * workers report each session's end.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { DROP_REASONS } from "./demux.ts";
import type { TransceiverPool } from "./pool.ts";
import type { SidebandSockets } from "./sideband-sockets.ts";

/** Session lengths worth telling apart: a failed setup, a quick question, a support call, a long one. */
export const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export function transceiverMetrics(pool: TransceiverPool, sidebands?: SidebandSockets): Registry {
  const registry = new Registry();
  const duration = new Histogram({
    name: "voice_edge_transceiver_session_duration_seconds",
    help: "Sessions that ended: seconds from creation to the end, by close cause",
    labelNames: ["reason"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const connected = new Histogram({
    name: "voice_edge_transceiver_session_connected_seconds",
    help: "Sessions that ended: seconds from connected (ICE+DTLS) to the end, by close cause (0: never connected)",
    labelNames: ["reason"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const audio = new Counter({
    name: "voice_edge_transceiver_audio_seconds_total",
    help: "Audio of ended bridged sessions: input (client to backend) and output (played to the client), seconds",
    labelNames: ["direction"],
    registers: [registry],
  });
  const ended = new Counter({
    name: "voice_edge_transceiver_sessions_ended_total",
    help: "Sessions that ended on this host since it started, by close cause (worker exits excepted: see sessions_closed_total)",
    labelNames: ["reason"],
    registers: [registry],
  });
  for (const w of pool.workers)
    w.onUsage = (u) => {
      duration.observe({ reason: u.reason }, u.durationSeconds);
      connected.observe({ reason: u.reason }, u.connectedSeconds);
      audio.inc({ direction: "input" }, u.inputAudioSeconds);
      audio.inc({ direction: "output" }, u.outputAudioSeconds);
      ended.inc({ reason: u.reason });
    };
  if (sidebands) {
    new Gauge({
      name: "voice_edge_transceiver_sidebands",
      help: "Sideband WebSockets attached to this host's calls",
      registers: [registry],
      collect() {
        this.set(sidebands.stats.attached);
      },
    });
    new Gauge({
      name: "voice_edge_transceiver_sideband_events_total",
      help: "Sideband events: out (server events sent), dropped (the sideband did not read), in (client events)",
      labelNames: ["direction"],
      registers: [registry],
      collect() {
        this.set({ direction: "out" }, sidebands.stats.eventsOut);
        this.set({ direction: "dropped" }, sidebands.stats.eventsDropped);
        this.set({ direction: "in" }, sidebands.stats.eventsIn);
      },
    });
  }
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
  const restarts = gauge("worker_restarts_total", "Times the worker process died and was restarted");
  const packetsIn = gauge("packets_in_total", "Datagrams received from relays");
  const bytesIn = gauge("bytes_in_total", "Bytes received from relays");
  const packetsOut = gauge("packets_out_total", "Datagrams sent to relays");
  const bytesOut = gauge("bytes_out_total", "Bytes sent to relays");
  const drops = gauge("drops_total", "Datagrams dropped by the demux, by reason", ["worker", "reason"]);
  const created = gauge("sessions_created_total", "Sessions created");
  const closed = gauge("sessions_closed_total", "Sessions closed, by reason", ["worker", "reason"]);
  const clientCloses = gauge(
    "client_closes_total",
    "Sessions the client ended, by how it said so (DTLS alert, SCTP ABORT/SHUTDOWN, channel close, RTCP BYE)",
    ["worker", "cause"],
  );
  const unsignalled = gauge(
    "unsignalled_rtp_total",
    "RTP from SSRCs the offer never named: ssrcs_routed (to an m-line by MID or as the one audio m-line), packets_dropped",
    ["worker", "outcome"],
  );
  const dtlsDrops = gauge(
    "dtls_gate_drops_total",
    "DTLS records kept from werift: renegotiation (a ClientHello once DTLS is up), bad-cookie (not minted for the source address), restart, fragment, malformed, unauthenticated-alert (once up, an alert that does not decrypt)",
    ["worker", "reason"],
  );
  const quality = gauge(
    "session_quality",
    "Call quality over connected sessions, from RTCP: RTT and jitter (avg/max, seconds), inbound packets received and lost",
    ["worker", "stat"],
  );

  // Bridge mode (docs/bridge.md): absent on workers without backends.
  const bridgeSessions = gauge("bridge_sessions", "Live sessions bridged to a backend");
  const bridgeFailures = gauge(
    "bridge_backend_failures_total",
    "Backend links that failed for good (the client got an error event; backend_unavailable: the session was not created), by error code",
    ["worker", "reason"],
  );
  const bridgeReconnects = gauge("bridge_backend_reconnects_total", "Backend reconnect attempts");
  const bridgeFrames = gauge(
    "bridge_audio_frames_total",
    "20 ms audio frames: to_backend (sent), to_backend_dropped (backend not reading), to_client (played), decode_errors",
    ["worker", "direction"],
  );
  const bridgeClears = gauge(
    "bridge_output_clears_total",
    "output_audio_buffer.clear carried out (barge-in)",
  );
  const pacer = gauge(
    "bridge_pacer",
    "The worker's 20 ms audio pacer: ticks, skipped_ticks (process too busy), max_late_ms, errors",
    ["worker", "stat"],
  );

  async function scrape(): Promise<void> {
    await Promise.all(
      pool.workers.map(async (w) => {
        const worker = String(w.index);
        const load = w.load();
        sessions.set({ worker }, load.sessions);
        capacity.set({ worker }, load.capacity);
        restarts.set({ worker }, w.restarts);
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
        for (const [cause, n] of Object.entries(s.clientCloses)) clientCloses.set({ worker, cause }, n);
        unsignalled.set({ worker, outcome: "ssrcs_routed" }, s.unsignalledRtp.ssrcsRouted);
        unsignalled.set({ worker, outcome: "packets_dropped" }, s.unsignalledRtp.packetsDropped);
        for (const [reason, n] of Object.entries(s.dtlsDrops)) dtlsDrops.set({ worker, reason }, n);
        const b = s.bridge;
        if (b) {
          bridgeSessions.set({ worker }, b.sessions);
          for (const [reason, n] of Object.entries(b.backendFailures))
            bridgeFailures.set({ worker, reason }, n);
          bridgeReconnects.set({ worker }, b.reconnects);
          bridgeFrames.set({ worker, direction: "to_backend" }, b.framesToBackend);
          bridgeFrames.set({ worker, direction: "to_backend_dropped" }, b.framesToBackendDropped);
          bridgeFrames.set({ worker, direction: "to_client" }, b.framesToClient);
          bridgeFrames.set({ worker, direction: "decode_errors" }, b.decodeErrors);
          bridgeClears.set({ worker }, b.clears);
          pacer.set({ worker, stat: "ticks" }, b.pacer.ticks);
          pacer.set({ worker, stat: "skipped_ticks" }, b.pacer.skipped);
          pacer.set({ worker, stat: "max_late_ms" }, b.pacer.maxLateMs);
          pacer.set({ worker, stat: "errors" }, b.pacer.errors);
        }
      }),
    );
  }
  return registry;
}
