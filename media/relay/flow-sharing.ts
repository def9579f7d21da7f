/**
 * A relay's shared flow records (Redis): the store it writes flows to and the
 * recovery that rebuilds an unknown client's flow from another instance's
 * record. All off the packet path: a lookup starts only for a datagram no
 * flow in memory owns.
 */
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";
import type { Logger } from "../runtime/log.ts";
import { encapAddress, encapPort } from "../wire/encap.ts";
import { v6Key } from "./flow.ts";
import { type FlowKv, FlowRecords } from "./flow-store.ts";
import type { RelayTier } from "./metrics.ts";
import { FlowRecovery, type PendingLookup, type RecoveryOptions } from "./recovery.ts";
import { RedisKv } from "./redis.ts";
import type { Steering } from "./steering.ts";

export interface FlowSharing {
  kv: FlowKv | undefined;
  records: FlowRecords | undefined;
  /** Whether the store answered within `ms` (undefined: no store). */
  whenReady(ms: number): Promise<boolean | undefined>;
  /** Closes the store if this relay opened it. */
  close(): Promise<void>;
}

export function openFlowSharing(
  o: { redis?: string; flowKv?: FlowKv; flowId?: string; flowPrefix?: string; cluster?: number },
  tier: RelayTier,
  listen: Endpoint,
  idleMs: number,
  log: Logger,
): FlowSharing {
  const ownsKv = o.flowKv === undefined && o.redis !== undefined;
  const kv = o.flowKv ?? (o.redis ? new RedisKv(o.redis, log) : undefined);
  const records = kv
    ? new FlowRecords({
        kv,
        id: o.flowId ?? (tier === "ingress" ? `ingress-${formatEndpoint(listen)}` : `cluster-${o.cluster}`),
        prefix: o.flowPrefix,
        ttlMs: 2 * idleMs,
        log,
      })
    : undefined;
  return {
    kv,
    records,
    whenReady: async (ms) => (kv ? kv.whenReady(ms) : undefined),
    close: async () => {
      if (ownsKv) await kv?.close();
    },
  };
}

/** An unknown client's datagram (its own memory): look its flow up (cold path: allocation is fine here). */
export function lookUp(
  recovery: FlowRecovery,
  steering: Steering,
  behindIngresses: boolean,
  msg: Buffer,
  address: string,
  port: number,
  now: number,
): void {
  if (behindIngresses) {
    const client = encapAddress(msg);
    const cport = encapPort(msg);
    const key = steering.recoverKey >= 0 ? steering.recoverKey : v6Key(client, cport);
    recovery.request(key, client, cport, { address, port }, msg, now);
  } else {
    const key = steering.recoverKey >= 0 ? steering.recoverKey : v6Key(address, port);
    recovery.request(key, address, port, undefined, msg, now);
  }
}

/** Rebuilds found flows and replays the datagrams held meanwhile, in order, toward the next hop. */
export function startRecovery(
  records: FlowRecords,
  steering: Steering,
  behindIngresses: boolean,
  sendInternal: (datagrams: Uint8Array[], hop: Endpoint) => void,
  options: Partial<RecoveryOptions> | undefined,
): FlowRecovery {
  return new FlowRecovery(
    records,
    {
      found: (p: PendingLookup, rec) => {
        const now = Date.now();
        const flow = steering.adopt(rec, p.address, p.port, p.ingress, now);
        if (typeof flow === "string") {
          for (let i = 0; i < p.held.length; i++) steering.countDrop(flow);
          return;
        }
        // Through the flow just rebuilt (never "recover" again: it exists).
        for (const d of p.held) {
          const from = p.ingress ?? p;
          const v = p.ingress
            ? steering.replayIngress(d, from.address, from.port, now)
            : steering.replayClient(d, from.address, from.port, now);
          if (v === "recover") steering.countDrop("not-stun");
          else if (v === "forward" || v === "open" || v === "repoint")
            sendInternal(behindIngresses ? [d] : [steering.flow!.header, d], steering.hop!);
        }
      },
      drop: (reason, n) => {
        for (let i = 0; i < n; i++) steering.countDrop(reason);
      },
    },
    options,
  );
}
