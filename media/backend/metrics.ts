/** Prometheus metrics of the demo backend (served at /metrics next to its WebSocket). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface BackendMetrics {
  registry: Registry;
  sessionsTotal: Counter;
  framesIn: Counter;
  framesOut: Counter;
  eventsOut: Counter<"type">;
  bargeIns: Counter;
  vadWindows: Counter<"outcome">;
  vadBatchSeconds: Histogram;
}

export function backendMetrics(liveSessions: () => number): BackendMetrics {
  const registry = new Registry();
  const p = "voice_edge_backend_";
  new Gauge({
    name: `${p}sessions`,
    help: "Connected sessions",
    registers: [registry],
    collect() {
      this.set(liveSessions());
    },
  });
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name: `${p}${name}`, help, labelNames, registers: [registry] });
  return {
    registry,
    sessionsTotal: counter("sessions_total", "Sessions started"),
    framesIn: counter("audio_frames_in_total", "PCM frames received from transceivers"),
    framesOut: counter("audio_frames_out_total", "PCM frames sent to transceivers"),
    eventsOut: counter("events_out_total", "Events sent, by type", ["type"]),
    bargeIns: counter("barge_ins_total", "Times the user spoke over the agent"),
    vadWindows: counter(
      "vad_windows_total",
      "Silero VAD windows (32 ms): inferred, skipped (backlog full: the last verdict held), failed",
      ["outcome"],
    ),
    vadBatchSeconds: new Histogram({
      name: `${p}vad_batch_seconds`,
      help: "Wall time of one Silero inference batch (one window from each waiting session)",
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
      registers: [registry],
    }),
  };
}
