import { describe, expect, it } from "vitest";
import { parseOptions, UsageError } from "../../media/runtime/options.ts";
import { DEFAULT_COMPLEXITY, OpusEncoder } from "../../media/transceiver/bridge/opus.ts";
import { transceiverSpecs } from "../../media/transceiver/main.ts";

const REQUIRED = ["--cluster", "1", "--keys", "1:" + "a".repeat(64), "--encap-keys", "1:" + "b".repeat(64)];
const complexity = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  parseOptions("transceiver", "", transceiverSpecs, [...REQUIRED, ...argv], env)?.["opus-complexity"];

/** 20 ms of a 24 kHz tone with harmonics: enough for complexity to change what the encoder writes. */
function frame(k: number): Buffer {
  const b = Buffer.alloc(480 * 2);
  for (let i = 0; i < 480; i++) {
    const t = (k * 480 + i) / 24000;
    b.writeInt16LE(
      Math.round(8000 * Math.sin(2 * Math.PI * 180 * t) + 3000 * Math.sin(2 * Math.PI * 1250 * t)),
      i * 2,
    );
  }
  return b;
}

describe("the bridge's Opus encoder complexity", () => {
  it("defaults to DEFAULT_COMPLEXITY, is set by --opus-complexity or its variable, 0-10 only", () => {
    expect(complexity([])).toBe(DEFAULT_COMPLEXITY);
    expect(complexity(["--opus-complexity", "0"])).toBe(0);
    expect(complexity([], { VOICE_EDGE_OPUS_COMPLEXITY: "9" })).toBe(9);
    expect(() => complexity(["--opus-complexity", "11"])).toThrow(UsageError);
    expect(() => complexity(["--opus-complexity", "2.5"])).toThrow(UsageError);
  });

  it("reaches the encoder: complexity 0 and 10 code the same audio differently", () => {
    const low = new OpusEncoder({ complexity: 0 });
    const high = new OpusEncoder({ complexity: 10 });
    const differ = Array.from({ length: 20 }, (_, k) => !low.encode(frame(k)).equals(high.encode(frame(k))));
    low.free();
    high.free();
    expect(differ.filter(Boolean).length).toBeGreaterThan(10);
  });
});
