/**
 * Where a new (or re-pointed, or recovered) flow goes, decided from its
 * authenticated routing hint (or from the shared record of one):
 *
 *   cluster relay        the transceiver the hint names, if the hint is for its own cluster
 *   Global Relay ingress the relay of the cluster the hint names, from configuration
 *
 * Same shape, same steering: only the Route differs between the two tiers.
 */
import type { Endpoint, RoutingHint } from "../../shared/hint.ts";
import { familyOf } from "../../shared/ip.ts";
import type { DropReason } from "./stats.ts";

/** What a route reads of a hint: its cluster and its transceiver. */
export type RouteTarget = Pick<RoutingHint, "cluster" | "transceiver">;

/** The next hop for a hint, or why there is none. */
export type Route = (target: RouteTarget) => Endpoint | DropReason;

/**
 * Route of a cluster relay: the hint's transceiver, when the hint names this
 * cluster and the transceiver is reachable from the internal socket's family.
 */
export function clusterRoute(cluster: number, family: 4 | 6): Route {
  return (hint) => {
    if (hint.cluster !== cluster) return "wrong-cluster";
    if (familyOf(hint.transceiver.address) !== family) return "no-route";
    return hint.transceiver;
  };
}

/**
 * Route of a Global Relay ingress: the relay of the hint's cluster, from the
 * configured map (validated at start: every address is of the internal
 * socket's family). A cluster the ingress has no relay for is "wrong-cluster".
 */
export function ingressRoute(clusters: ReadonlyMap<number, Endpoint>): Route {
  return (hint) => clusters.get(hint.cluster) ?? "wrong-cluster";
}
