/**
 * What a relay worker is started with, as plain data (it crosses IPC to a
 * worker process, or stays in one relay process), and the relay options it
 * stands for. Apart from worker-process.ts, whose import starts a worker in
 * any process with an IPC channel.
 */
import { parseKeyring } from "../../shared/hint.ts";
import type { IoChoice } from "../udp-batch/io-choice.ts";
import { parseEncapKeys } from "../wire/encap-auth.ts";
import { AddressSet } from "./config.ts";
import type { RelayOptions } from "./server.ts";
import type { TcpLimits } from "./tcp-bounds.ts";

/** What a worker needs, as plain data (secrets go over IPC, never argv). */
export interface WorkerInit {
  worker: number;
  tier: NonNullable<RelayOptions["tier"]>;
  cluster: number | undefined;
  keys: string;
  encapKeys: string;
  listen: { address: string; port: number };
  internal: { address: string; port: number };
  clusters: [number, { address: string; port: number }][] | undefined;
  ingresses: string | undefined;
  idleTimeoutMs: number;
  maxFlows: number;
  redis: string | undefined;
  flowId: string | undefined;
  flowPrefix: string | undefined;
  /** I/O backend choice (io.ts); undefined: auto. */
  io?: IoChoice;
  /** ICE-TCP listener (every worker on the same port, SO_REUSEPORT). */
  tcp?: { listen: { address: string; port: number }; limits: TcpLimits };
}

/** The relay options of `init` (its worker number is the caller's to pass on). */
export function relayOptionsOf(init: Omit<WorkerInit, "worker">): RelayOptions {
  return {
    tier: init.tier,
    cluster: init.cluster,
    keys: parseKeyring(init.keys),
    encapKeys: parseEncapKeys(init.encapKeys),
    listen: init.listen,
    internal: init.internal,
    clusters: init.clusters ? new Map(init.clusters) : undefined,
    ingresses: init.ingresses ? AddressSet.parse(init.ingresses) : undefined,
    idleTimeoutMs: init.idleTimeoutMs,
    maxFlows: init.maxFlows,
    redis: init.redis,
    flowId: init.flowId,
    flowPrefix: init.flowPrefix,
    io: init.io,
    tcp: init.tcp,
  };
}
