/**
 * `voice-edge stack` runs each relay as two worker processes on one port: kill one of the ingress's
 * and one of the cluster relay's (SIGKILL) under live calls, and the stack restarts them (new pids),
 * the calls keep or regain their audio (flow records in Redis), and new calls work.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { REDIS_URL } from "../support/redis.ts";
import { openCall, StreamedCalls, waitUntil } from "../support/relay-harness.ts";
import { LO } from "../support/udp.ts";

let stack: RunningStack;
const streamed = new StreamedCalls();
const calls = streamed.calls;

beforeAll(async () => {
  stack = await startLoopbackStack([await loopbackRegion("aa", 51)], {
    backend: "echo",
    redis: REDIS_URL,
    flowPrefix: `ve:test:${randomBytes(4).toString("hex")}:`,
  });
});

afterAll(async () => {
  await streamed.close();
  await stack?.close();
});

describe("relay processes of the stack", () => {
  it("two per tier, restarted when killed, and calls work again", async () => {
    const [ingress] = stack.ingressHosts;
    const [cluster] = stack.clusterHosts;
    expect(stack.relays).toEqual([]); // none in the stack's own process
    const before = { ingress: ingress!.pids(), cluster: cluster!.pids() };
    expect(before.ingress).toHaveLength(2);
    expect(before.cluster).toHaveLength(2);
    expect(new Set([...before.ingress, ...before.cluster, process.pid]).size).toBe(5);

    const tx = stack.transceivers[0]!.url;
    const at = `${LO}:${stack.topology.regions[0]!.ingressPort}`;
    for (let i = 0; i < 4; i++) calls.push(await openCall(tx, at, stack.token));
    streamed.stream();
    await waitUntil(() => calls.every((c) => c.arrivals.length >= 5), 5000, "echoed audio on every call");

    process.kill(before.ingress[0]!, "SIGKILL");
    process.kill(before.cluster[0]!, "SIGKILL");
    const killedAt = Date.now();
    await waitUntil(
      () => ingress!.restarts() === 1 && cluster!.restarts() === 1,
      10_000,
      "both relays to restart their killed worker",
    );
    expect(ingress!.pids()[0]).not.toBe(before.ingress[0]);
    expect(cluster!.pids()[0]).not.toBe(before.cluster[0]);
    expect(ingress!.pids()[1]).toBe(before.ingress[1]);
    expect(cluster!.pids()[1]).toBe(before.cluster[1]);

    // Every call hears its echo again after the kill.
    await waitUntil(
      () => calls.every((c) => c.arrivals.some((t) => t > killedAt + 200)),
      10_000,
      "echoed audio on every call after the kill",
    );
    // And a new call works.
    const fresh = await openCall(tx, at, stack.token);
    calls.push(fresh);
    await waitUntil(() => fresh.arrivals.length >= 5, 5000, "echoed audio on a call opened after the kill");
  });
});
