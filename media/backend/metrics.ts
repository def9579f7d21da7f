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
  return {
    registry,
    sessionsTotal: new Counter({
      name: `${p}sessions_total`,
      help: "Sessions started",
      registers: [registry],
    }),
    framesIn: new Counter({
      name: `${p}audio_frames_in_total`,
      help: "PCM frames received from transceivers",
      registers: [registry],
    }),
    framesOut: new Counter({
      name: `${p}audio_frames_out_total`,
      help: "PCM frames sent to transceivers",
      registers: [registry],
    }),
    eventsOut: new Counter({
      name: `${p}events_out_total`,
      help: "Events sent, by type",
      labelNames: ["type"],
      registers: [registry],
    }),
    bargeIns: new Counter({
      name: `${p}barge_ins_total`,
      help: "Times the user spoke over the agent",
      registers: [registry],
    }),
    vadWindows: new Counter({
      name: `${p}vad_windows_total`,
      help: "Silero VAD windows (32 ms): inferred, skipped (backlog full: the last verdict held), failed",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    vadBatchSeconds: new Histogram({
      name: `${p}vad_batch_seconds`,
      help: "Wall time of one Silero inference batch (one window from each waiting session)",
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
      registers: [registry],
    }),
  };
}
