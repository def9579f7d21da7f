/**
 * Prometheus view of the relay's counters. Nothing here runs per packet:
 * collect callbacks copy the plain numbers of RelayStats when /metrics is scraped.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { DROP_REASONS, HINT_FAILURES, type RelayStats } from "./stats.ts";

export function relayRegistry(stats: RelayStats, flows: () => number, maxFlows: number): Registry {
  const registers = [new Registry()];
  new Counter({
    name: "voice_edge_relay_packets_total",
    help: "Datagrams by path: from_client, to_transceiver, from_transceiver, to_client",
    labelNames: ["path"] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ path: "from_client" }, stats.clientPackets);
      this.inc({ path: "to_transceiver" }, stats.forwardedPackets);
      this.inc({ path: "from_transceiver" }, stats.transceiverPackets);
      this.inc({ path: "to_client" }, stats.deliveredPackets);
    },
  });
  new Counter({
    name: "voice_edge_relay_bytes_total",
    help: "UDP payload bytes by path (to/from transceivers including the encapsulation header)",
    labelNames: ["path"] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ path: "from_client" }, stats.clientBytes);
      this.inc({ path: "to_transceiver" }, stats.forwardedBytes);
      this.inc({ path: "from_transceiver" }, stats.transceiverBytes);
      this.inc({ path: "to_client" }, stats.deliveredBytes);
    },
  });
  new Counter({
    name: "voice_edge_relay_drops_total",
    help: "Datagrams dropped, by reason (docs/relay.md)",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, stats.drops[reason]);
    },
  });
  new Counter({
    name: "voice_edge_relay_hint_failures_total",
    help: "Routing hints refused (the bad-hint drops), by decoder reason",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      this.reset();
      for (const reason of HINT_FAILURES) this.inc({ reason }, stats.hintFailures[reason]);
    },
  });
  new Counter({
    name: "voice_edge_relay_flow_events_total",
    help: "Flows opened, re-pointed (new session), verified (ClientHello with cookie) and expired (idle)",
    labelNames: ["event"] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ event: "opened" }, stats.flowsOpened);
      this.inc({ event: "repointed" }, stats.flowsRepointed);
      this.inc({ event: "verified" }, stats.flowsVerified);
      this.inc({ event: "expired" }, stats.flowsExpired);
    },
  });
  new Gauge({
    name: "voice_edge_relay_flows",
    help: "Flows in the table",
    registers,
    collect() {
      this.set(flows());
    },
  });
  new Gauge({
    name: "voice_edge_relay_max_flows",
    help: "Size bound of the flow table",
    registers,
    collect() {
      this.set(maxFlows);
    },
  });
  return registers[0]!;
}
