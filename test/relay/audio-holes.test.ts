/**
 * audioHoles, the harness's measure of audio the relays lost: the longest run of sequence numbers
 * missing from a call's echo (streamAudio writes seq mod 256 into every payload byte).
 */
import { describe, expect, it } from "vitest";
import { type AudioCall, audioHoles } from "../support/relay-harness.ts";

/** A call that heard packets `seqs` (sent every 20 ms from 0), at `at[i]` or on time. */
function heard(seqs: number[], at: number[] = seqs.map((s) => s * 20)): AudioCall {
  return {
    arrivals: at,
    client: { received: seqs.map((s) => ({ payload: Buffer.alloc(60, s & 0xff) })) },
  } as unknown as AudioCall;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe("audioHoles", () => {
  it("is 0 for a full stream, however late its packets (the harness stalled)", () => {
    const seqs = range(0, 100);
    const late = seqs.map((s) => (s < 50 ? s * 20 : s * 20 + 400));
    expect(audioHoles([heard(seqs), heard(seqs, late)], -1, 3000)).toEqual([0, 0]);
  });

  it("is the longest run missing, in ms of audio", () => {
    const seqs = [...range(0, 10), ...range(13, 20), ...range(25, 40)];
    expect(audioHoles([heard(seqs)], -1, 1000)).toEqual([5 * 20]);
  });

  it("counts a packet behind the newest (reordered) as filling nothing, across the byte's wrap", () => {
    const seqs = [...range(250, 258), 255, 254, ...range(258, 270)];
    const at = seqs.map((_, i) => 5000 + i * 20);
    expect(audioHoles([heard(seqs, at)], 0, 9000)).toEqual([0]);
  });

  it("tells a run of 256 and more from a small one by the arrival times", () => {
    const seqs = [...range(0, 10), ...range(310, 320)];
    expect(audioHoles([heard(seqs)], -1, 7000)).toEqual([300 * 20]);
  });

  it("takes the runs that begin in the window, however long they last", () => {
    const seqs = [...range(0, 10), ...range(60, 70)];
    expect(audioHoles([heard(seqs)], -1, 190)).toEqual([50 * 20]);
    expect(audioHoles([heard(seqs)], -1, 170)).toEqual([0]);
    expect(audioHoles([heard(seqs)], 500, 2000)).toEqual([0]);
  });
});
