/**
 * Session ids, minted and parsed here only.
 *
 * A worker names its sessions "w<worker>_<random>" (local ids): the owning
 * worker without a lookup table. The session API hands out public ids
 * "h4<host>-<local id>" (or "h6" for IPv6), where <host> is base64url of
 * key id (1) | the host's API address (4 or 16) | port (2) |
 * tag: HMAC-SHA-256(hint key, DOMAIN || all of the above || local id)[0..8].
 * Behind a Kubernetes Service the edge reaches any pod of a cluster; a pod that
 * gets a request for another pod's session finds it from the id, and only an
 * id a host of this cluster minted (the hint keys are the cluster's secret)
 * makes it contact another address: a forged one is refused before any request.
 */
import { randomBytes } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { decodeBase64Url, encodeBase64Url } from "../../shared/base64.ts";
import type { HintKeyring } from "../../shared/hint.ts";
import { decodeIpLiteral, formatIp } from "../../shared/ip.ts";
import { equalBytes } from "../../shared/signed-token.ts";

export interface HostAddress {
  address: string;
  port: number;
}

const LOCAL_ID = /^w(\d{1,3})_[A-Za-z0-9_-]{16}$/;
const DOMAIN = new TextEncoder().encode("voice-edge/session-id/v1\0");
const TAG_BYTES = 8;
/** Characters of the host part per family: base64url of 1 + address + 2 + tag bytes. */
const hostChars = (addrLen: number) => Math.ceil(((1 + addrLen + 2 + TAG_BYTES) * 4) / 3);

/** A new local id for a session of worker `worker`: 96 random bits. */
export function mintLocalSessionId(worker: number): string {
  return `w${worker}_${randomBytes(12).toString("base64url")}`;
}

/** The worker a local id names, or undefined when it is not a local id. */
export function workerOf(localId: string): number | undefined {
  const m = LOCAL_ID.exec(localId);
  return m ? Number(m[1]) : undefined;
}

export type ParsedSessionId = { local: string; host?: undefined } | { host: HostAddress; local: string };

/** Mints and opens the public ids of one cluster's hosts with the cluster's hint keys. */
export class SessionIds {
  private readonly keys: HintKeyring;

  constructor(keys: HintKeyring) {
    this.keys = keys;
  }

  mint(host: HostAddress, localId: string): string {
    const ip = decodeIpLiteral(host.address);
    if (!ip) throw new Error(`host address "${host.address}" is not an IP literal`);
    if (workerOf(localId) === undefined) throw new Error(`"${localId}" is not a local session id`);
    const body = new Uint8Array(1 + ip.length + 2 + TAG_BYTES);
    body[0] = this.keys.current.id;
    body.set(ip, 1);
    body[1 + ip.length] = host.port >>> 8;
    body[2 + ip.length] = host.port & 0xff;
    body.set(this.tag(this.keys.current.secret, body.subarray(0, 3 + ip.length), localId), 3 + ip.length);
    return `h${ip.length === 4 ? 4 : 6}${encodeBase64Url(body)}-${localId}`;
  }

  /**
   * A local id as is, or a public id whose tag verifies (current or previous key); undefined for
   * anything else, without throwing.
   */
  open(id: string): ParsedSessionId | undefined {
    if (workerOf(id) !== undefined) return { local: id };
    const addrLen = id.startsWith("h4") ? 4 : id.startsWith("h6") ? 16 : 0;
    if (addrLen === 0) return undefined;
    const end = 2 + hostChars(addrLen);
    const local = id.slice(end + 1);
    if (id[end] !== "-" || workerOf(local) === undefined) return undefined;
    const body = decodeBase64Url(id.slice(2, end));
    if (!body || body.length !== 1 + addrLen + 2 + TAG_BYTES) return undefined;
    const key = [this.keys.current, this.keys.previous].find((k) => k?.id === body[0]);
    if (!key) return undefined;
    const expected = this.tag(key.secret, body.subarray(0, 3 + addrLen), local);
    if (!equalBytes(expected, body.subarray(3 + addrLen))) return undefined;
    const port = (body[1 + addrLen]! << 8) | body[2 + addrLen]!;
    if (port === 0) return undefined;
    return { host: { address: formatIp(body.subarray(1, 1 + addrLen)), port }, local };
  }

  private tag(secret: Uint8Array, head: Uint8Array, localId: string): Uint8Array {
    const mac = hmac.create(sha256, secret);
    mac.update(DOMAIN);
    mac.update(head);
    mac.update(new TextEncoder().encode(localId));
    return mac.digest().subarray(0, TAG_BYTES);
  }
}
