/**
 * What a sender without the encapsulation keys can put in front of a datagram to name
 * the IPv4 client 127.0.0.1:port: the header from before authentication (flags 0) and
 * today's with a guessed token under key ids 1 and 2. Raw bytes, no project imports, so
 * the attack tests that use it also run against code from before authentication.
 */
import { randomBytes } from "node:crypto";

export function forgedHeaders(port: number): Buffer[] {
  const untagged = Buffer.from([0xf4, 0x00, port >> 8, port & 255, 127, 0, 0, 1]);
  const guessed = (keyId: number) =>
    Buffer.concat([Buffer.from([0xf4, 0x01, port >> 8, port & 255, 127, 0, 0, 1, keyId]), randomBytes(8)]);
  return [untagged, guessed(1), guessed(2)];
}
