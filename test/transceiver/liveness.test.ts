import { describe, expect, it } from "vitest";
import { liveness } from "../../media/transceiver/liveness.ts";

const rule = { silenceMs: 30_000, connectMs: 10_000 };

describe("liveness rule", () => {
  it("keeps a connected session while the client is heard within the silence limit", () => {
    expect(liveness(true, 1000, 1000 + 30_000, rule)).toBe("live");
    expect(liveness(true, 1000, 1000 + 30_001, rule)).toBe("silent");
  });

  it("gives a session that never connected the connect limit instead", () => {
    expect(liveness(false, 0, 10_000, rule)).toBe("live");
    expect(liveness(false, 0, 10_001, rule)).toBe("never-connected");
    // Traffic during setup (checks, handshake) refreshes it too.
    expect(liveness(false, 9_000, 15_000, rule)).toBe("live");
  });

  it("uses each limit only for its own state", () => {
    const wide = { silenceMs: 5_000, connectMs: 60_000 };
    expect(liveness(true, 0, 20_000, wide)).toBe("silent");
    expect(liveness(false, 0, 20_000, wide)).toBe("live");
  });
});
