import { describe, expect, it } from "vitest";
import { type MLine, mLineFor } from "../../media/transceiver/rtp-routing.ts";

const audio = (mid: string, payloadTypes = [111], receives = true): MLine => ({
  mid,
  kind: "audio",
  receives,
  payloadTypes,
});
const video: MLine = { mid: "v", kind: "video", receives: true, payloadTypes: [96] };

describe("routing RTP from an unsignalled SSRC", () => {
  it("goes by the MID header extension when there is one", () => {
    expect(mLineFor([audio("0"), audio("1"), video], "1", 111)).toBe(1);
    expect(mLineFor([audio("0"), video], "v", 96)).toBe(1);
    expect(mLineFor([audio("0")], "9", 111)).toBe(-1);
    expect(mLineFor([audio("0", [111], false)], "0", 111)).toBe(-1);
  });

  it("else to the one receiving audio m-line that knows the payload type", () => {
    expect(mLineFor([video, audio("a")], undefined, 111)).toBe(1);
    expect(mLineFor([audio("a")], undefined, 0)).toBe(-1);
    expect(mLineFor([audio("a", [111], false), audio("b")], undefined, 111)).toBe(1);
  });

  it("drops it when that is ambiguous", () => {
    expect(mLineFor([audio("a"), audio("b")], undefined, 111)).toBe(-1);
  });
});
