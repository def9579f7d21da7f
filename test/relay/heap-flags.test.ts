import { describe, expect, it } from "vitest";
import { RELAY_V8_FLAGS } from "../../media/relay/heap-flags.ts";
import { missingFlags } from "../../media/runtime/v8-flags.ts";

describe("relay V8 flags", () => {
  it("asks for a small young generation", () => {
    expect(RELAY_V8_FLAGS).toContain("--max-semi-space-size=1");
  });

  it("adds only what neither the command line nor NODE_OPTIONS sets", () => {
    const wanted = ["--max-semi-space-size=1", "--single-threaded-gc"];
    expect(missingFlags(wanted, [], undefined)).toEqual(wanted);
    expect(missingFlags(wanted, ["--max-semi-space-size=1"], undefined)).toEqual(["--single-threaded-gc"]);
    expect(missingFlags(wanted, [], "--single-threaded-gc  --max_semi_space_size=8")).toEqual([]);
  });

  it("lets an operator's own value win", () => {
    expect(missingFlags(["--max-semi-space-size=1"], ["--max-semi-space-size=16"], "")).toEqual([]);
    expect(missingFlags(["--max-semi-space-size=1"], ["--max-old-space-size=512"], "")).toEqual([
      "--max-semi-space-size=1",
    ]);
  });
});
