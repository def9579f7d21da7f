/**
 * Reading a client's goodbye off the wire (sans-IO): DTLS alert records and
 * RTCP BYE packets. werift handles neither well (docs/werift.md): it treats
 * any alert it can parse as a close, ignores fatal ones, and drops BYE.
 */

import { DTLS_ALERT } from "../wire/client-hello.ts";

export { DTLS_ALERT };

const DTLS_HEADER = 13;
const RTCP_BYE = 203;

/** One DTLS record (RFC 6347 §4.1), shaped as werift's DtlsPlaintext; the fragment a view into the datagram. */
export interface DtlsRecord {
  recordLayerHeader: {
    contentType: number;
    protocolVersion: { major: number; minor: number };
    epoch: number;
    sequenceNumber: number;
    contentLen: number;
  };
  fragment: Buffer;
}

/** Offset of the first alert record at or after `from` in a DTLS datagram, or -1. No allocation. */
export function findDtlsAlert(buf: Buffer, from = 0): number {
  let at = from;
  while (at + DTLS_HEADER <= buf.length) {
    if (buf[at] === DTLS_ALERT) return at;
    at += DTLS_HEADER + buf.readUInt16BE(at + 11);
  }
  return -1;
}

export function readDtlsRecord(buf: Buffer, at: number): DtlsRecord | undefined {
  if (at + DTLS_HEADER > buf.length) return undefined;
  const contentLen = buf.readUInt16BE(at + 11);
  if (at + DTLS_HEADER + contentLen > buf.length) return undefined;
  return {
    recordLayerHeader: {
      contentType: buf[at]!,
      protocolVersion: { major: buf[at + 1]!, minor: buf[at + 2]! },
      epoch: buf.readUInt16BE(at + 3),
      sequenceNumber: buf.readUIntBE(at + 5, 6),
      contentLen,
    },
    fragment: buf.subarray(at + DTLS_HEADER, at + DTLS_HEADER + contentLen),
  };
}

export function serializeDtlsRecord(r: DtlsRecord): Buffer {
  const h = r.recordLayerHeader;
  const out = Buffer.alloc(DTLS_HEADER + r.fragment.length);
  out[0] = h.contentType;
  out[1] = h.protocolVersion.major;
  out[2] = h.protocolVersion.minor;
  out.writeUInt16BE(h.epoch, 3);
  out.writeUIntBE(h.sequenceNumber, 5, 6);
  out.writeUInt16BE(r.fragment.length, 11);
  r.fragment.copy(out, DTLS_HEADER);
  return out;
}

/** The alert body: level 1 warning, 2 fatal; description 0 is close_notify (RFC 5246 §7.2). */
export const CLOSE_NOTIFY = Buffer.from([1, 0]);

/** Whether a decrypted alert ends the connection, and how. */
export function alertCause(body: Buffer): "dtls_close_notify" | "dtls_alert" | undefined {
  if (body.length < 2) return undefined;
  if (body[1] === 0) return "dtls_close_notify";
  return body[0] === 2 ? "dtls_alert" : undefined;
}

/** Whether a decrypted (compound) RTCP packet holds a BYE for an SSRC `ours` accepts. No allocation. */
export function rtcpByeFor(buf: Buffer, ours: (ssrc: number) => boolean): boolean {
  let at = 0;
  while (at + 4 <= buf.length) {
    const words = buf.readUInt16BE(at + 2);
    if (buf[at + 1] === RTCP_BYE) {
      const count = buf[at]! & 0x1f;
      for (let i = 0; i < count && at + 8 + 4 * i <= buf.length; i++)
        if (ours(buf.readUInt32BE(at + 4 + 4 * i))) return true;
    }
    at += 4 + 4 * words;
  }
  return false;
}
