/**
 * `voice-edge backend`: the demo voice agent (a parrot with server VAD and
 * barge-in) that transceivers bridge sessions to. Needs no model, runs offline.
 */
import { z } from "zod";
import { parseEndpoint } from "../../shared/ip.ts";
import { createLogger } from "../runtime/log.ts";
import { parseOptions } from "../runtime/options.ts";
import { type RunningBackend, startBackendServer } from "./server.ts";
import { VAD_CHOICES } from "./vad/engine.ts";
import { DEFAULT_VAD, type VadConfig } from "./vad/vad.ts";

export const backendSpecs = {
  listen: {
    env: "VOICE_EDGE_BACKEND_LISTEN",
    schema: z
      .string()
      .default("127.0.0.1:8790")
      .transform((s, ctx) => {
        const e = parseEndpoint(s);
        if (!e)
          ctx.addIssue({ code: "custom", message: `--listen must be ip:port (IP literal), got "${s}"` });
        return e!;
      }),
    description: "WebSocket address; transceivers connect to ws://<listen>/v1/agent",
  },
  vad: {
    env: "VOICE_EDGE_VAD",
    schema: z.enum(VAD_CHOICES).default("auto"),
    description:
      "turn detection: silero (Silero VAD v5 on onnxruntime-node), energy (level threshold), or auto (silero if it loads, else energy)",
  },
  "vad-threshold": {
    env: "VOICE_EDGE_VAD_THRESHOLD",
    schema: z.coerce.number().min(0).max(1).default(DEFAULT_VAD.threshold),
    description:
      "default speech threshold 0..1 (silero: speech probability; energy: level above -60 + 40*threshold dBFS); sessions may override",
  },
  "prefix-padding-ms": {
    env: "VOICE_EDGE_VAD_PREFIX_PADDING_MS",
    schema: z.coerce.number().int().min(0).max(5000).default(DEFAULT_VAD.prefixPaddingMs),
    description: "default audio kept from before the speech onset",
  },
  "silence-duration-ms": {
    env: "VOICE_EDGE_VAD_SILENCE_DURATION_MS",
    schema: z.coerce.number().int().min(20).max(10_000).default(DEFAULT_VAD.silenceDurationMs),
    description: "default quiet after speech that ends the user's turn",
  },
  "min-speech-ms": {
    env: "VOICE_EDGE_VAD_MIN_SPEECH_MS",
    schema: z.coerce.number().int().min(20).max(1000).default(DEFAULT_VAD.minSpeechMs),
    description: "speech shorter than this is ignored (also the VAD's share of barge-in latency)",
  },
  "max-utterance-ms": {
    env: "VOICE_EDGE_MAX_UTTERANCE_MS",
    schema: z.coerce.number().int().min(100).max(120_000).default(DEFAULT_VAD.maxUtteranceMs),
    description: "longest utterance the parrot plays back",
  },
};

export function vadFromOptions(o: {
  "vad-threshold": number;
  "prefix-padding-ms": number;
  "silence-duration-ms": number;
  "min-speech-ms": number;
  "max-utterance-ms": number;
}): VadConfig {
  return {
    threshold: o["vad-threshold"],
    prefixPaddingMs: o["prefix-padding-ms"],
    silenceDurationMs: o["silence-duration-ms"],
    minSpeechMs: o["min-speech-ms"],
    maxUtteranceMs: o["max-utterance-ms"],
  };
}

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions(
    "backend",
    "Demo voice agent for the transceiver's backend protocol: server VAD, parrots each utterance back, barge-in.",
    backendSpecs,
    argv,
  );
  if (!o) return;
  const log = createLogger("backend");
  const b: RunningBackend = await startBackendServer({
    host: o.listen.address,
    port: o.listen.port,
    vad: vadFromOptions(o),
    vadEngine: o.vad,
    log,
  });
  log.info({ url: b.url, vad: b.vad, vadDefaults: vadFromOptions(o) }, "backend ready");
  const stop = async (signal: string) => {
    log.info({ signal, sessions: b.sessions() }, "stopping");
    await b.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}
