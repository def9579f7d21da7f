/** Placement skips a worker that is down (dead, being restarted), whatever its load says. */
import { describe, expect, it } from "vitest";
import { TransceiverPool } from "../../media/transceiver/pool.ts";
import type { CreatedSession, WorkerLoad } from "../../media/transceiver/session-host.ts";
import type { WorkerHandle } from "../../media/transceiver/worker-handle.ts";

function fake(index: number, sessions: number): WorkerHandle & { up: boolean; created: number } {
  return {
    index,
    up: true,
    created: 0,
    restarts: 0,
    ready() {
      return this.up;
    },
    load: (): WorkerLoad => ({ index, pid: 1, sessions, capacity: 10, endpoint: "" }),
    async createSession() {
      this.created++;
      return { id: `w${index}` } as CreatedSession;
    },
    endSession: async () => false,
    restartSession: async () => undefined,
    list: async () => [],
    stats: async () => {
      throw new Error("unused");
    },
    openSideband: async () => "not-found",
    sidebandIn: () => {},
    sidebandGone: () => {},
    close: async () => {},
  };
}

describe("placement", () => {
  it("sends new sessions past a down worker, and to it again once it is ready", async () => {
    const idle = fake(0, 0);
    const busy = fake(1, 5);
    const pool = new TransceiverPool(1, [idle, busy]);
    idle.up = false;
    await pool.createSession({ sdp: "" });
    await pool.createSession({ sdp: "" });
    expect([idle.created, busy.created]).toEqual([0, 2]);
    idle.up = true;
    await pool.createSession({ sdp: "" });
    expect([idle.created, busy.created]).toEqual([1, 2]);
  });

  it("is at capacity when every worker is down", async () => {
    const w = fake(0, 0);
    w.up = false;
    await expect(new TransceiverPool(1, [w]).createSession({ sdp: "" })).rejects.toThrow(/capacity/);
  });
});
