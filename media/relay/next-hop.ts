/**
 * Where a new (or re-pointed) flow goes, decided from its authenticated
 * routing hint. A cluster relay sends to the transceiver the hint names, if
 * the hint is for its own cluster. A Global Relay ingress will route by the
 * hint's cluster id instead: another Route, same shape.
 */
import type { Endpoint, RoutingHint } from "../../shared/hint.ts";
import type { DropReason } from "./stats.ts";

/** The next hop for a hint, or why there is none. */
export type Route = (hint: RoutingHint) => Endpoint | DropReason;

/**
 * Route of a cluster relay: the hint's transceiver, when the hint names this
 * cluster and the transceiver is reachable from the internal socket's family.
 */
export function clusterRoute(cluster: number, family: 4 | 6): Route {
  return (hint) => {
    if (hint.cluster !== cluster) return "wrong-cluster";
    if ((hint.transceiver.address.includes(":") ? 6 : 4) !== family) return "no-route";
    return hint.transceiver;
  };
}
