import { describe, expect, it } from "vitest";
import {
  alertCause,
  findDtlsAlert,
  readDtlsRecord,
  rtcpByeFor,
  serializeDtlsRecord,
} from "../../media/transceiver/close-signals.ts";

function record(contentType: number, epoch: number, sequenceNumber: number, fragment: number[]) {
  return serializeDtlsRecord({
    recordLayerHeader: {
      contentType,
      protocolVersion: { major: 254, minor: 253 },
      epoch,
      sequenceNumber,
      contentLen: fragment.length,
    },
    fragment: Buffer.from(fragment),
  });
}

describe("DTLS alert records", () => {
  it("finds an alert behind other records of the same datagram, and reads it back", () => {
    const data = Buffer.concat([record(23, 1, 7, [1, 2, 3, 4]), record(21, 1, 0x0102030405, [9, 9, 9])]);
    const at = findDtlsAlert(data);
    expect(at).toBe(13 + 4);
    const r = readDtlsRecord(data, at)!;
    expect(r.recordLayerHeader).toEqual({
      contentType: 21,
      protocolVersion: { major: 254, minor: 253 },
      epoch: 1,
      sequenceNumber: 0x0102030405,
      contentLen: 3,
    });
    expect([...r.fragment]).toEqual([9, 9, 9]);
    expect(serializeDtlsRecord(r)).toEqual(data.subarray(at));
    expect(findDtlsAlert(data, at + 13 + 3)).toBe(-1);
  });

  it("finds none in application data, and refuses a truncated record", () => {
    expect(findDtlsAlert(record(23, 1, 1, [21, 21]))).toBe(-1);
    const truncated = record(21, 0, 0, [2, 40]).subarray(0, 14);
    expect(readDtlsRecord(truncated, 0)).toBeUndefined();
  });

  it("takes close_notify and fatal alerts for goodbyes, other warnings not", () => {
    expect(alertCause(Buffer.from([1, 0]))).toBe("dtls_close_notify");
    expect(alertCause(Buffer.from([2, 40]))).toBe("dtls_alert");
    expect(alertCause(Buffer.from([1, 100]))).toBeUndefined();
    expect(alertCause(Buffer.from([1]))).toBeUndefined();
  });
});

describe("RTCP BYE", () => {
  const sr = Buffer.from([0x80, 200, 0, 6, ...Array(24).fill(0)]);
  const bye = (ssrcs: number[]) => {
    const b = Buffer.alloc(4 + 4 * ssrcs.length);
    b[0] = 0x80 | ssrcs.length;
    b[1] = 203;
    b.writeUInt16BE(ssrcs.length, 2);
    for (const [i, s] of ssrcs.entries()) b.writeUInt32BE(s, 4 + 4 * i);
    return b;
  };
  it("finds a BYE for one of our SSRCs anywhere in a compound packet", () => {
    const ours = (ssrc: number) => ssrc === 0xdeadbeef;
    expect(rtcpByeFor(Buffer.concat([sr, bye([1, 0xdeadbeef])]), ours)).toBe(true);
    expect(rtcpByeFor(Buffer.concat([sr, bye([1, 2])]), ours)).toBe(false);
    expect(rtcpByeFor(sr, ours)).toBe(false);
  });
});
