/**
 * The Global Relay chain the recovery tests and benchmark share, as real
 * processes on loopback: werift calls -> ingress -> (load balancer) -> cluster
 * relay -> transceiver (echo, one worker), with audio streaming on every call.
 */
import {
  type AudioCall,
  closeCalls,
  clusterRelayArgs,
  ingressArgs,
  killRelays,
  openCall,
  type RelayProcess,
  spawnRelay,
  streamAudio,
  UdpBalancer,
} from "./relay-harness.ts";
import { type SpawnedTransceiver, spawnTransceiver, TEST_KEYS } from "./stack.ts";
import { freeUdpPort, LO } from "./udp.ts";

export interface RelayChainOptions {
  cluster: number;
  calls: number;
  /** Both tiers keep flow records there. */
  redisUrl?: string;
  /** The flow records' key prefix (--flow-prefix). */
  prefix?: string;
  /** A UdpBalancer between the ingress and the cluster relay, so a test can swap the cluster relay. */
  balancer?: boolean;
  /** Extra arguments of the ingress only (e.g. --flow-id). */
  ingressExtra?: string[];
}

export interface RelayChain {
  tx: SpawnedTransceiver;
  ingress: RelayProcess;
  clusterRelay: RelayProcess;
  lb: UdpBalancer | undefined;
  calls: AudioCall[];
  /** The cluster relay's arguments without --redis (add `redisArgs` for a restart that recovers). */
  clusterArgs: string[];
  /** The ingress's arguments, --redis included. */
  ingressArgv: string[];
  redisArgs: string[];
  relayPort: number;
  ingressPort: number;
  /** Stops the audio, closes the calls, and ends every process. */
  stop(): Promise<void>;
}

export async function startRelayChain(o: RelayChainOptions): Promise<RelayChain> {
  const relayPort = await freeUdpPort();
  const ingressPort = await freeUdpPort();
  const common = ["--workers", "1", "--keys", TEST_KEYS, "--internal", `${LO}:0`];
  if (o.prefix) common.push("--flow-prefix", o.prefix);
  const redisArgs = o.redisUrl ? ["--redis", o.redisUrl] : [];
  const clusterArgs = [...common, ...clusterRelayArgs(o.cluster, `${LO}:${relayPort}`, LO)];
  const clusterRelay = await spawnRelay([...clusterArgs, ...redisArgs]);
  const lb = o.balancer ? await UdpBalancer.start({ address: LO, port: clusterRelay.publicPort }) : undefined;
  const next = `${LO}:${lb?.port ?? relayPort}`;
  const ingressArgv = [
    ...common,
    ...redisArgs,
    ...ingressArgs(o.cluster, next, `${LO}:${ingressPort}`),
    ...(o.ingressExtra ?? []),
  ];
  const [ingress, tx] = await Promise.all([
    spawnRelay(ingressArgv),
    spawnTransceiver({ cluster: o.cluster, ingress: `${LO}:${ingressPort}`, workers: 1 }),
  ]);
  const calls = await Promise.all(Array.from({ length: o.calls }, () => openCall(tx.url)));
  const stopAudio = streamAudio(calls);
  return {
    tx,
    ingress,
    clusterRelay,
    lb,
    calls,
    clusterArgs,
    ingressArgv,
    redisArgs,
    relayPort,
    ingressPort,
    async stop() {
      stopAudio();
      await closeCalls(calls);
      await tx.stop("SIGINT");
      await killRelays();
      await lb?.close();
    },
  };
}
