/**
 * Fuzzed datagrams for the relays (seeded): what an attacker on the Internet
 * can send to an ingress, and what a sender on an allowed internal address
 * can send to a cluster relay. Each kind is one attack of the harness.
 */

import { buildBindingRequest } from "../../../media/wire/stun-build.ts";
import type { Endpoint, HintKeyring } from "../../../shared/hint.ts";
import { mintHint, parseKeyring } from "../../../shared/hint.ts";
import { strangerEncapKeys } from "../relay-fixtures.ts";
import { mutate, type Rng } from "./rng.ts";

/** What the generators draw from: the stack's keys, its live sessions and real packets of its calls. */
export interface UdpMaterial {
  keys: HintKeyring;
  cluster: number;
  /** The transceiver workers (for hints that are valid but name no session). */
  transceivers: Endpoint[];
  /** Live sessions' server ICE credentials. */
  sessions: { ufrag: string; password: string }[];
  /** Real datagrams of the live calls (STUN checks, DTLS records, SRTP, SRTCP). */
  captured: Buffer[];
  /** The live calls' client addresses as the relays see them. */
  clients: Endpoint[];
}

export const INGRESS_ATTACKS = ["garbage", "truncated-stun", "forged-hint", "mutated"] as const;
export const CLUSTER_ATTACKS = ["encap-garbage", "encap-unknown-client", "encap-live-client"] as const;
export type IngressAttack = (typeof INGRESS_ATTACKS)[number];
export type ClusterAttack = (typeof CLUSTER_ATTACKS)[number];

const FOREIGN_KEYS = parseKeyring(`9:${"77".repeat(24)}`);

function check(rng: Rng, m: UdpMaterial): Buffer {
  const s = rng.pick(m.sessions);
  return buildBindingRequest({ username: `${s.ufrag}:fz${rng.int(10, 99)}`, password: s.password });
}

function forgedHint(rng: Rng, m: UdpMaterial): Buffer {
  const t = rng.pick(m.transceivers);
  const pw = rng.bytes(18).toString("base64");
  switch (rng.int(0, 4)) {
    case 0: // another deployment's key: bad-tag
      return buildBindingRequest({
        username: `${mintHint(FOREIGN_KEYS, { cluster: m.cluster, transceiver: t })}:x`,
        password: pw,
      });
    case 1: // base64 of the right length, made up
      return buildBindingRequest({ username: `${rng.bytes(27).toString("base64")}:x`, password: pw });
    case 2: // a valid hint naming no session: unknown-ufrag at the transceiver
      return buildBindingRequest({
        username: `${mintHint(m.keys, { cluster: m.cluster, transceiver: t })}:x`,
        password: pw,
      });
    case 3: // a live session's ufrag with a made-up password: bad-integrity
      return buildBindingRequest({ username: `${rng.pick(m.sessions).ufrag}:x`, password: pw });
    default: // a cluster nobody serves: wrong-cluster
      return buildBindingRequest({
        username: `${mintHint(m.keys, { cluster: (m.cluster + 1) & 0xffff, transceiver: t })}:x`,
        password: pw,
      });
  }
}

/** One datagram for an ingress (or a cluster relay facing clients). */
export function ingressDatagram(kind: IngressAttack, rng: Rng, m: UdpMaterial): Buffer {
  switch (kind) {
    case "garbage":
      return rng.bytes(rng.int(0, 1400));
    case "truncated-stun": {
      const full = rng.chance(0.5) ? check(rng, m) : forgedHint(rng, m);
      return full.subarray(0, rng.int(1, full.length - 1));
    }
    case "forged-hint":
      return forgedHint(rng, m);
    case "mutated":
      return mutate(rng, rng.pick(m.captured), rng.pick(m.captured));
  }
}

/** One datagram for a cluster relay from an address its ingress list allows. */
export function clusterDatagram(kind: ClusterAttack, rng: Rng, m: UdpMaterial): Buffer {
  switch (kind) {
    case "encap-garbage": {
      const b = rng.bytes(rng.int(0, 600));
      if (b.length > 0 && rng.chance(0.5)) b[0] = rng.pick([0xf4, 0xf6]);
      return b;
    }
    case "encap-unknown-client": {
      const header = strangerEncapKeys.header(
        `198.51.${rng.int(0, 255)}.${rng.int(1, 254)}`,
        rng.int(1024, 65535),
      );
      const payload = rng.chance(0.5) ? forgedHint(rng, m) : mutate(rng, rng.pick(m.captured));
      return Buffer.concat([header, payload]);
    }
    case "encap-live-client": {
      const c = rng.pick(m.clients);
      return Buffer.concat([strangerEncapKeys.header(c.address, c.port), mutate(rng, rng.pick(m.captured))]);
    }
  }
}
