/**
 * A short, seeded run of the fuzz harness (test/support/fuzz/harness.ts)
 * against `voice-edge stack` with live calls: nothing crashes, no fuzzing
 * socket gets more than it sent, every error the edge's Worker and the
 * transceiver answer is OpenAI-shaped JSON and none is a 5xx, the calls go on
 * and the pools stay healthy. `npm run fuzz` runs the same for minutes.
 */
import { expect, it } from "vitest";
import { runFuzz } from "../support/fuzz/harness.ts";

it("survives a seeded fuzz of the media and control planes", async () => {
  const r = await runFuzz({ seed: 1116, seconds: 4, calls: 2, udpRate: 600, httpConcurrency: 2 });
  console.log(JSON.stringify({ attacks: r.attacks, http: r.http, drops: r.drops, gapsMs: r.gapsMs }));
  expect(r.restarts).toEqual({ ingress: 0, cluster: 0, transceiver: 0 });
  for (const [name, a] of Object.entries(r.attacks)) {
    expect(a.sentPackets, name).toBeGreaterThan(0);
    expect(a.receivedBytes, `${name}: ${a.receivedBytes} bytes back for ${a.sentBytes}`).toBeLessThanOrEqual(
      a.sentBytes,
    );
  }
  // The forged victim of the replayed cookie gets STUN answers at most, never the DTLS flight.
  expect(r.drops.ingress["bad-cookie"]).toBeGreaterThan(0);
  expect(r.drops.transceiver["dtls renegotiation"]).toBeGreaterThan(0);
  for (const target of ["edge", "transceiver"] as const) {
    const h = r.http[target];
    expect(h.requests, target).toBeGreaterThan(10);
    expect(h.violations, target).toEqual([]);
    expect(h.noAnswers, target).toEqual([]);
  }
  expect(r.callsAlive).toBe(r.calls);
  expect(r.poolsHealthy).toBe(true);
  expect(r.transceiverHealthy).toBe(true);
});
