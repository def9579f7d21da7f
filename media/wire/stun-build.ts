/**
 * Builds STUN Binding requests as an ICE agent would send them: for tests,
 * load generators (`voice-edge hint --stun`) and anything that must open a
 * flow through the relay. Not on any hot path.
 */
import { createHmac, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import {
  ATTR_FINGERPRINT,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_USE_CANDIDATE,
  ATTR_USERNAME,
  BINDING_REQUEST,
  MAGIC_COOKIE,
  STUN_HEADER,
} from "./stun.ts";

const ATTR_PRIORITY = 0x0024;
const ATTR_ICE_CONTROLLING = 0x802a;

export interface BindingRequestOptions {
  /** "serverUfrag:clientUfrag" */
  username: string;
  /** The server's ICE password; MESSAGE-INTEGRITY is added when given. */
  password?: string;
  transactionId?: Uint8Array;
  useCandidate?: boolean;
  priority?: number;
  fingerprint?: boolean;
}

export function buildBindingRequest(o: BindingRequestOptions): Buffer {
  const attrs: Buffer[] = [];
  const attr = (type: number, value: Buffer) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(value.length, 2);
    attrs.push(h, value, Buffer.alloc((4 - (value.length % 4)) % 4));
  };
  attr(ATTR_USERNAME, Buffer.from(o.username, "utf8"));
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(o.priority ?? 0x6e7f1eff, 0);
  attr(ATTR_PRIORITY, prio);
  attr(ATTR_ICE_CONTROLLING, randomBytes(8));
  if (o.useCandidate) attr(ATTR_USE_CANDIDATE, Buffer.alloc(0));

  const header = Buffer.alloc(STUN_HEADER);
  header.writeUInt16BE(BINDING_REQUEST, 0);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  Buffer.from(o.transactionId ?? randomBytes(12)).copy(header, 8);
  let msg = Buffer.concat([header, ...attrs]);
  if (o.password !== undefined) {
    msg.writeUInt16BE(msg.length - STUN_HEADER + 24, 2);
    const mac = createHmac("sha1", o.password).update(msg).digest();
    const h = Buffer.alloc(4);
    h.writeUInt16BE(ATTR_MESSAGE_INTEGRITY, 0);
    h.writeUInt16BE(20, 2);
    msg = Buffer.concat([msg, h, mac]);
  }
  msg.writeUInt16BE(msg.length - STUN_HEADER, 2);
  if (o.fingerprint !== false) {
    msg.writeUInt16BE(msg.length - STUN_HEADER + 8, 2);
    const fp = Buffer.alloc(8);
    fp.writeUInt16BE(ATTR_FINGERPRINT, 0);
    fp.writeUInt16BE(4, 2);
    fp.writeUInt32BE((crc32(msg) ^ 0x5354554e) >>> 0, 4);
    msg = Buffer.concat([msg, fp]);
  }
  return msg;
}
