import { describe, expect, it } from "vitest";
import { WORKER_SEMI_SPACE_MIB, workerExecArgv } from "../../media/transceiver/forked-worker.ts";

describe("forked worker options", () => {
  it("cap the young generation, after which the parent's own options still apply", () => {
    expect(workerExecArgv([], "")).toEqual([`--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`]);
    expect(workerExecArgv(["--max-old-space-size=900"], "--enable-source-maps")).toEqual([
      `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`,
      "--max-old-space-size=900",
    ]);
  });

  it("leave the young generation to the operator who sets it", () => {
    expect(workerExecArgv(["--max-semi-space-size=32"], "")).toEqual(["--max-semi-space-size=32"]);
    expect(workerExecArgv([], "--max-semi-space-size=32")).toEqual([]);
  });
});
