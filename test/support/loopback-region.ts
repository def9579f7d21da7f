/** A stack topology region on loopback for the tests: free ports, one worker. */
import { freePort } from "./stack.ts";
import { freeUdpPort } from "./udp.ts";

export async function loopbackRegion(name: string, cluster: number, latitude = 50, longitude = 8) {
  return {
    name,
    cluster,
    latitude,
    longitude,
    ingressPort: await freeUdpPort(),
    transceiverPort: await freePort(),
    workers: 1,
  };
}
