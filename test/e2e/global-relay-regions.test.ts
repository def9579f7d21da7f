/**
 * Two regions of `voice-edge stack` (startStack: per region an ingress, a
 * cluster relay and a transceiver host). A caller of region A whose call is
 * steered to cluster B (as the edge does when A is down or full) enters at
 * ingress A, which forwards to cluster relay B, which forwards to transceiver
 * B; replies come back the same way and leave from ingress A, the address
 * the client sent to. And the other way round.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { openCall, StreamedCalls, waitUntil } from "../support/relay-harness.ts";
import { txFetch } from "../support/stack.ts";
import { LO } from "../support/udp.ts";

let stack: RunningStack;
const streamed = new StreamedCalls();
const calls = streamed.calls;

beforeAll(async () => {
  stack = await startLoopbackStack(
    [
      await loopbackRegion("aa", 41, { latitude: 50.1, longitude: 8.7 }),
      await loopbackRegion("bb", 42, { latitude: 39.0, longitude: -77.5 }),
    ],
    // In this process: the test reads the relays' flow tables.
    { backend: "echo", relayProcesses: 0 },
  );
});

afterAll(async () => {
  await streamed.close();
  await stack?.close();
});

describe("Global Relay across regions", () => {
  it("a client of region A steered to cluster B: ingress A -> cluster relay B -> transceiver B, and back out of ingress A", async () => {
    const [A, B] = stack.topology.regions;
    const [ingressA, ingressB] = stack.relays;
    const [relayA, relayB] = stack.clusterRelays;
    const [txA, txB] = stack.transceivers;
    // A to B, and B to A: the session lives in the other region, the SDP answer names the caller's ingress.
    const aToB = await openCall(txB!.url, `${LO}:${A!.ingressPort}`, stack.token);
    const bToA = await openCall(txA!.url, `${LO}:${B!.ingressPort}`, stack.token);
    calls.push(aToB, bToA);
    streamed.stream();
    await waitUntil(() => calls.every((c) => c.arrivals.length >= 10), 5000, "echoed audio on both calls");

    // The client only ever talks to (and hears from) its own region's ingress.
    expect(aToB.remotePort()).toBe(A!.ingressPort);
    expect(bToA.remotePort()).toBe(B!.ingressPort);
    // Each ingress sent its caller's flows to the other region's cluster relay ...
    const hops = (r: typeof ingressA) => new Set([...r!.flows.flows()].map((f) => f.hop.port));
    expect(hops(ingressA)).toEqual(new Set([relayB!.publicAddress.port]));
    expect(hops(ingressB)).toEqual(new Set([relayA!.publicAddress.port]));
    // ... which took them from that ingress and sends its replies back there.
    const from = (r: typeof relayA) => new Set([...r!.flows.flows()].map((f) => f.ingress?.port));
    expect(from(relayB)).toEqual(new Set([ingressA!.internalAddress.port]));
    expect(from(relayA)).toEqual(new Set([ingressB!.internalAddress.port]));
    expect(relayB!.stats.flowsOpened).toBe(ingressA!.stats.flowsOpened);
    expect(relayB!.stats.deliveredPackets).toBeGreaterThan(10);
    expect(ingressA!.stats.deliveredPackets).toBeGreaterThan(10);
    // The transceiver sees the real client, and the ingress its answer advertised.
    const info = (await (await txFetch(`${txB!.url}/v1/sessions/${aToB.id}`, {}, stack.token)).json()) as {
      client: string;
      ingress: string;
    };
    expect(info).toMatchObject({ client: `${LO}:${aToB.localPort()}`, ingress: `${LO}:${A!.ingressPort}` });
    // Data channel too.
    const echoed = new Promise<string>((resolve) =>
      aToB.client.channel.onMessage.subscribe((m) => resolve(String(m))),
    );
    aToB.client.channel.send("across regions");
    expect(await echoed).toBe("across regions");
  });
});
