/**
 * Transceiver demux (sans-IO): which session an encapsulated datagram from a
 * relay belongs to. Every header must carry the client's token under an
 * encapsulation key (encap-auth.ts): only relays hold the keys, so nobody else
 * can name a client to this socket. STUN Binding requests are routed by the
 * server ufrag in USERNAME and must carry a valid MESSAGE-INTEGRITY (werift
 * does not check it); everything else is routed by the client address a valid
 * check taught us. No allocation on the non-STUN path beyond Map lookups.
 */
import { ENCAP_V4, encapAddress, encapHeaderLength, encapKeyV4, encapPort } from "../wire/encap.ts";
import type { EncapCheck, EncapCredential, EncapKeys } from "../wire/encap-auth.ts";
import {
  ATTR_USE_CANDIDATE,
  ATTR_USERNAME,
  BINDING_REQUEST,
  findAttribute,
  isStun,
  serverUfragLength,
  stunMessageType,
  verifyMessageIntegrity,
} from "../wire/stun.ts";
import type { CheckReplay } from "./check-replay.ts";
import type { Addr } from "./peer.ts";

export interface DemuxSession {
  /** ICE password for one of this session's ufrags (old ones stay valid after an ICE restart). */
  passwordFor(ufrag: string): string | undefined;
  /** Its recent checks, so that one replayed from another address binds nothing. */
  readonly checks: CheckReplay;
}

/** One client address (as the relay saw it) bound to a session. */
export interface ClientFlow<S extends DemuxSession> {
  session: S;
  key: number | string;
  addr: Addr;
  /** Encapsulation header for replies to this client (this side's current key), computed once. */
  header: Buffer;
  /** The client's tokens under every key: what the relays' datagrams naming it must carry. */
  credential: EncapCredential;
  relayAddress: string;
  relayPort: number;
}

export const DROP_REASONS = [
  "not-encapsulated",
  // The header's key id is not one of ours, or its token is not the client's: not from a relay.
  "unknown-encap-key",
  "bad-encap-token",
  "stun-no-username",
  "unknown-ufrag",
  "bad-integrity",
  // An authentic check already seen from another client address: a replay, not a rebinding.
  "replayed-check",
  "unknown-client",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface DemuxStats {
  packets: number;
  bytes: number;
  stunChecks: number;
  drops: Record<DropReason, number>;
}

/** Result flags of the last successful route(); read right after the call. */
export interface RouteInfo {
  isStun: boolean;
  /** A Binding request carrying USE-CANDIDATE: the client nominates this address. */
  nominate: boolean;
  headerLength: number;
}

export class Demux<S extends DemuxSession> {
  readonly byUfrag = new Map<string, S>();
  readonly byClient = new Map<number | string, ClientFlow<S>>();
  readonly stats: DemuxStats = {
    packets: 0,
    bytes: 0,
    stunChecks: 0,
    drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
  };
  readonly info: RouteInfo = { isStun: false, nominate: false, headerLength: 0 };
  lastDrop: DropReason | undefined;
  private readonly keys: EncapKeys;

  constructor(keys: EncapKeys) {
    this.keys = keys;
  }

  /** Routes one datagram; returns its flow, or undefined with `lastDrop` set and counted. */
  route(msg: Buffer, relayAddress: string, relayPort: number): ClientFlow<S> | undefined {
    const len = msg.length;
    this.stats.packets++;
    this.stats.bytes += len;
    const h = encapHeaderLength(msg, len);
    if (h < 0) return this.drop("not-encapsulated");
    const info = this.info;
    info.headerLength = h;
    info.nominate = false;
    const key = msg[0] === ENCAP_V4 ? encapKeyV4(msg) : `[${encapAddress(msg)}]:${encapPort(msg)}`;
    const known = this.byClient.get(key);
    // A known client: its kept tokens (a compare). Before anything else: replies follow the sender.
    if (known !== undefined) {
      const auth = known.credential.check(msg, 0);
      if (auth !== "ok") return this.unauthenticated(auth);
    }
    const stun = isStun(msg, h, len - h);
    info.isStun = stun;
    if (stun && stunMessageType(msg, h) === BINDING_REQUEST) {
      this.stats.stunChecks++;
      // A new client: the token is computed (an HMAC), as its check's MESSAGE-INTEGRITY is.
      if (known === undefined) {
        const auth = this.keys.check(msg, 0);
        if (auth !== "ok") return this.unauthenticated(auth);
      }
      const u = findAttribute(msg, h, len - h, ATTR_USERNAME);
      const n = u < 0 ? -1 : serverUfragLength(msg, u);
      if (n < 0) return this.drop("stun-no-username");
      const ufrag = msg.toString("latin1", u, u + n);
      const session = this.byUfrag.get(ufrag);
      if (!session) return this.drop("unknown-ufrag");
      const password = session.passwordFor(ufrag);
      if (!password || !verifyMessageIntegrity(msg, h, len - h, password)) return this.drop("bad-integrity");
      if (session.checks.replayed(msg.toString("latin1", h + 8, h + 20), key))
        return this.drop("replayed-check");
      info.nominate = findAttribute(msg, h, len - h, ATTR_USE_CANDIDATE) >= 0;
      let flow = known;
      if (!flow || flow.session !== session) {
        const addr: Addr = [encapAddress(msg), encapPort(msg)];
        const credential = flow?.credential ?? this.keys.credential(addr[0], addr[1]);
        flow = { session, key, addr, header: credential.header, credential, relayAddress, relayPort };
        this.byClient.set(key, flow);
      }
      this.notePath(flow, relayAddress, relayPort);
      return flow;
    }
    if (!known) return this.drop("unknown-client");
    this.notePath(known, relayAddress, relayPort);
    return known;
  }

  /** A header whose key id or token is not ours. */
  private unauthenticated(check: Exclude<EncapCheck, "ok">): undefined {
    return this.drop(check === "unknown-key" ? "unknown-encap-key" : "bad-encap-token");
  }

  /** Replies go back through the relay the client's packets last came from (a relay may be replaced). */
  private notePath(flow: ClientFlow<S>, relayAddress: string, relayPort: number): void {
    if (flow.relayPort !== relayPort || flow.relayAddress !== relayAddress) {
      flow.relayAddress = relayAddress;
      flow.relayPort = relayPort;
    }
  }

  private drop(reason: DropReason): undefined {
    this.stats.drops[reason]++;
    this.lastDrop = reason;
    return undefined;
  }

  addUfrag(ufrag: string, session: S): void {
    this.byUfrag.set(ufrag, session);
  }

  /** Forgets a session: its ufrags and every client flow bound to it. */
  removeSession(session: S): void {
    for (const [u, s] of this.byUfrag) if (s === session) this.byUfrag.delete(u);
    for (const [k, f] of this.byClient) if (f.session === session) this.byClient.delete(k);
  }
}
