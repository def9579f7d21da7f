/**
 * DTLS handshake records for attack tests: a real ClientHello taken from a
 * werift client's first flight, the cookie of a HelloVerifyRequest, and the
 * same ClientHello re-encoded with another cookie (RFC 6347 §4.2.1).
 */
import { buildBindingRequest } from "../../media/wire/stun-build.ts";
import { until } from "./udp.ts";
import type { TestClient } from "./werift-client.ts";

const RECORD = 13;
const HANDSHAKE = 12;

interface ProtocolTap {
  transport: { send(data: Buffer, addr: unknown): Promise<void> };
}

/** Every datagram the client sends from now on goes through `tap` first (after its offer, before connecting). */
export function tapSends(client: TestClient, tap: (data: Buffer) => void): void {
  const connection = client.pc.iceTransports[0]!.connection as unknown as { protocols: ProtocolTap[] };
  for (const p of connection.protocols) {
    const send = p.transport.send.bind(p.transport);
    p.transport.send = (data, addr) => {
      tap(Buffer.from(data));
      return send(data, addr);
    };
  }
}

/** Sends raw bytes from the client's own socket to where its ICE pair points: a datagram "from" the client. */
export async function sendFromClient(client: TestClient, data: Buffer): Promise<void> {
  const connection = client.pc.iceTransports[0]!.connection as unknown as {
    nominated?: { protocol: ProtocolTap; remoteAddr: unknown };
  };
  const pair = connection.nominated;
  if (!pair) throw new Error("the client has no nominated pair");
  await pair.protocol.transport.send(data, pair.remoteAddr);
}

/** Handshake type of the first record when it is an epoch-0 handshake, else -1. */
export function handshakeType(d: Buffer): number {
  if (d.length < RECORD + HANDSHAKE || d[0] !== 22 || d.readUInt16BE(3) !== 0) return -1;
  return d[RECORD]!;
}

/** Offset of the cookie length byte in a ClientHello record. */
function cookieAt(hello: Buffer): number {
  const sid = RECORD + HANDSHAKE + 2 + 32;
  return sid + 1 + hello[sid]!;
}

/** The cookie a ClientHello carries (empty for a first one). */
export function helloCookie(hello: Buffer): Buffer {
  const at = cookieAt(hello);
  return hello.subarray(at + 1, at + 1 + hello[at]!);
}

/** The cookie of a HelloVerifyRequest (handshake type 3: server_version, then the cookie). */
export function verifyRequestCookie(d: Buffer): Buffer {
  if (handshakeType(d) !== 3) throw new Error("not a HelloVerifyRequest");
  const at = RECORD + HANDSHAKE + 2;
  return d.subarray(at + 1, at + 1 + d[at]!);
}

/** The same ClientHello (one unfragmented record) carrying `cookie`, lengths rewritten. */
export function withCookie(hello: Buffer, cookie: Uint8Array, messageSeq = 1): Buffer {
  const at = cookieAt(hello);
  const out = Buffer.concat([
    hello.subarray(0, at),
    Buffer.from([cookie.length]),
    Buffer.from(cookie),
    hello.subarray(at + 1 + hello[at]!),
  ]);
  const body = out.length - RECORD - HANDSHAKE;
  out.writeUInt16BE(out.length - RECORD, 11);
  out.writeUIntBE(body, RECORD + 1, 3);
  out.writeUInt16BE(messageSeq, RECORD + 4);
  out.writeUIntBE(0, RECORD + 6, 3);
  out.writeUIntBE(body, RECORD + 9, 3);
  return out;
}

/** The server's ICE password from an SDP answer. */
export function icePassword(sdp: string): string {
  const m = /a=ice-pwd:(\S+)/.exec(sdp);
  if (!m) throw new Error("no a=ice-pwd in the answer");
  return m[1]!;
}

/** The first cookieless ClientHello among a client's datagrams. */
export function firstClientHello(sent: Buffer[]): Buffer | undefined {
  return sent.find((d) => handshakeType(d) === 1 && helloCookie(d).length === 0);
}

/** An attacker's STUN check for the session of `ufrag` (the password from its SDP answer), nominating or not. */
export function attackerCheck(ufrag: string, answer: string): (nominate: boolean) => Buffer {
  const password = icePassword(answer);
  return (nominate) => buildBindingRequest({ username: `${ufrag}:atk`, password, useCandidate: nominate });
}

/**
 * A cookie learnt as an attacker learns it: a nominating check, then the
 * cookieless ClientHello again and again (until the DTLS server runs, ICE
 * connected, it is ignored), until `verifyRequest` has a HelloVerifyRequest
 * that came back; resolves with that request's cookie.
 */
export async function learnCookie(o: {
  send(d: Buffer): unknown;
  verifyRequest(): Buffer | undefined;
  check: Buffer;
  hello: Buffer;
  retryMs: number;
}): Promise<Buffer> {
  await o.send(o.check);
  const deadline = Date.now() + 10_000;
  while (!o.verifyRequest()) {
    if (Date.now() > deadline) throw new Error("no HelloVerifyRequest for the attacker");
    await o.send(o.hello);
    await until(() => o.verifyRequest() !== undefined, o.retryMs, "a HelloVerifyRequest").catch(() => {});
  }
  return Buffer.from(verifyRequestCookie(o.verifyRequest()!));
}
