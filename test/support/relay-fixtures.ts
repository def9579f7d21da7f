/** Shared test material for the relay: keys, hint-bearing STUN, DTLS ClientHellos, steering and relay options. */

import { FlowTable } from "../../media/relay/flow-table.ts";
import { clusterRoute } from "../../media/relay/next-hop.ts";
import type { RelayOptions } from "../../media/relay/server.ts";
import { Steering, type SteeringOptions } from "../../media/relay/steering.ts";
import { loadUdpBatch } from "../../media/udp-batch/batch-socket.ts";
import { type IoChoice, parseIoChoice } from "../../media/udp-batch/io-choice.ts";
import { DtlsCookies } from "../../media/wire/dtls-cookie.ts";
import { type EncapKeys, parseEncapKeys } from "../../media/wire/encap-auth.ts";
import { buildBindingRequest } from "../../media/wire/stun-build.ts";
import { type HintKeyring, mintHint, parseKeyring } from "../../shared/hint.ts";
import { decodeIpLiteral } from "../../shared/ip.ts";

export const KEYS_SPEC = "1:000102030405060708090a0b0c0d0e0f";
export const keys: HintKeyring = parseKeyring(KEYS_SPEC);
export const otherKeys: HintKeyring = parseKeyring("1:ffeeddccbbaa99887766554433221100");
export const CLUSTER = 7;

export function hint(
  transceiverPort: number,
  o: { cluster?: number; address?: string; ring?: HintKeyring } = {},
) {
  return mintHint(o.ring ?? keys, {
    cluster: o.cluster ?? CLUSTER,
    transceiver: { address: o.address ?? "127.0.0.1", port: transceiverPort },
  });
}

/** A Binding request whose USERNAME is "<ufrag>:client". */
export function binding(ufrag: string, o: { useCandidate?: boolean } = {}): Buffer {
  return buildBindingRequest({ username: `${ufrag}:cl1e`, password: "pw", useCandidate: o.useCandidate });
}

/** A DTLS 1.2 ClientHello record (epoch 0), optionally with a cookie. */
export function clientHello(
  o: { cookie?: Uint8Array; sessionId?: Uint8Array; version?: number } = {},
): Buffer {
  const cookie = o.cookie ?? new Uint8Array(0);
  const sid = o.sessionId ?? new Uint8Array(0);
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]), // client_version
    Buffer.alloc(32, 0x5a), // random
    Buffer.from([sid.length]),
    Buffer.from(sid),
    Buffer.from([cookie.length]),
    Buffer.from(cookie),
    Buffer.from([0x00, 0x02, 0xc0, 0x2b]), // cipher suites
    Buffer.from([0x01, 0x00]), // compression: null
    Buffer.from([0x00, 0x00]), // no extensions
  ]);
  const hs = Buffer.alloc(12);
  hs[0] = 1;
  hs.writeUIntBE(body.length, 1, 3);
  hs.writeUInt16BE(o.cookie ? 1 : 0, 4);
  hs.writeUIntBE(0, 6, 3);
  hs.writeUIntBE(body.length, 9, 3);
  const rec = Buffer.alloc(13);
  rec[0] = 22;
  rec.writeUInt16BE(o.version ?? 0xfeff, 1);
  rec.writeUInt16BE(hs.length + body.length, 11);
  return Buffer.concat([rec, hs, body]);
}

/** The DTLS cookie a transceiver holding `ring` hands the client at address:port, issued at `now` (ms). */
export function cookieFor(address: string, port: number, now = Date.now(), ring = keys): Uint8Array {
  return new DtlsCookies(ring).mint(decodeIpLiteral(address)!, port, now);
}

/** An RTP-looking datagram (first byte 0x80). */
export function rtp(size = 60, fill = 1): Buffer {
  const b = Buffer.alloc(size, fill);
  b[0] = 0x80;
  b[1] = 111;
  return b;
}

/**
 * The I/O backend relays started by this test run use: VOICE_EDGE_RELAY_IO
 * (the vitest project "relay-dgram" sets dgram), else batch when its addon loads.
 */
/** The I/O backend this test project runs relays with (the relay-dgram project sets dgram). */
export const testIo = (): IoChoice => parseIoChoice(process.env.VOICE_EDGE_RELAY_IO);

export function expectedIo(): "batch" | "dgram" {
  const asked = process.env.VOICE_EDGE_RELAY_IO;
  if (asked === "dgram" || asked === "batch") return asked;
  return loadUdpBatch() instanceof Error ? "dgram" : "batch";
}

/** Encapsulation keys of the relays and transceivers under test (other than the hint keys). */
export const ENCAP_KEYS_SPEC = "1:202122232425262728292a2b2c2d2e2f";
export const encapKeys: EncapKeys = parseEncapKeys(ENCAP_KEYS_SPEC);
/** Keys nobody under test holds: what a sender on an allowed address without the key has. */
export const strangerEncapKeys: EncapKeys = parseEncapKeys("1:303132333435363738393a3b3c3d3e3f");

/** `payload` for client address:port behind the test keys' header: a transceiver's reply, an ingress's forward. */
export function encapped(address: string, port: number, payload: Buffer): Buffer {
  return Buffer.concat([encapKeys.header(address, port), payload]);
}

/** A ClientHello echoing the cookie the transceivers mint for address:port: it verifies the flow. */
export function verifiedHello(address: string, port: number, now = Date.now()): Buffer {
  return clientHello({ cookie: cookieFor(address, port, now) });
}

/** The steering of a cluster relay of CLUSTER (IPv4 transceivers) with the test keys and 100 flows; `o` adds or overrides. */
export function testSteering(o: Partial<SteeringOptions> = {}): Steering {
  return new Steering({ keys, encapKeys, route: clusterRoute(CLUSTER, 4), table: new FlowTable(100), ...o });
}

/** A cluster relay of CLUSTER on loopback with the test keys and I/O backend; `o` adds or overrides. */
export function relayOptions(o: Partial<RelayOptions> = {}): RelayOptions {
  return {
    io: testIo(),
    cluster: CLUSTER,
    keys,
    encapKeys,
    listen: { address: "127.0.0.1", port: 0 },
    internal: { address: "127.0.0.1", port: 0 },
    ...o,
  };
}
