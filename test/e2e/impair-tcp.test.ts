/**
 * The TCP impairer in the stack (region `impair.tcpPort`): a werift call over
 * ICE-TCP only, its answer's TCP candidate the impairer's, audio both ways
 * through it; its frames counted by the impairer's TCP links.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { openEdgeCall, StreamedCalls, waitUntil } from "../support/relay-harness.ts";
import { freePort } from "../support/stack.ts";
import { freeUdpPort } from "../support/udp.ts";

let stack: RunningStack;
const streamed = new StreamedCalls();

beforeAll(async () => {
  const region = await loopbackRegion("aa", 62, { tcp: true });
  stack = await startLoopbackStack(
    [{ ...region, impair: { port: await freeUdpPort(), tcpPort: await freePort(), profile: "clean" } }],
    { backend: "echo", tcpOnly: true },
  );
});

afterAll(async () => {
  await streamed.close();
  await stack?.close();
});

describe("TCP impairer in the stack", () => {
  it("advertises the impairer's TCP port, and a TCP-only werift call runs through it", async () => {
    const tcp = stack.impairers[0]!.tcp!;
    const call = await openEdgeCall(stack.edge!.url, { tcp: true });
    streamed.calls.push(call);
    expect(call.answer).toContain(` tcp `);
    expect(call.answer).toMatch(new RegExp(`127\\.0\\.0\\.1 ${tcp.address.port} typ host tcptype passive`));
    streamed.stream();
    await waitUntil(() => call.arrivals.length >= 25, 15_000, "echoed audio through the TCP impairer");
    const s = stack.impairers[0]!.stats.tcp!;
    expect(s.accepted).toBeGreaterThanOrEqual(1);
    expect(s.up.delivered).toBeGreaterThan(25);
    expect(s.down.delivered).toBeGreaterThan(25);
  });
});
