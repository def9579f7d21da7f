/**
 * ICE-TCP through the whole stack (`voice-edge stack` with tcpOnly: the
 * answers advertise only the ingress's passive TCP candidate):
 *
 *   werift client --TCP (RFC 4571)--> ingress (2 worker processes) --UDP, encapsulated-->
 *     cluster relay --> transceiver (echo), and back onto the same connection
 *
 * Calls are made through the edge (POST /v1/realtime/calls), as a Realtime
 * client would. Then bad input on the TCP port beside live calls (one over
 * TCP, one over UDP), and a kill -9 of the ingress: the TCP connection is
 * gone (the client's ICE fails at once), and a new call works.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { binding, hint } from "../support/relay-fixtures.ts";
import {
  type AudioCall,
  openCall,
  openEdgeCall,
  StreamedCalls,
  waitUntil,
} from "../support/relay-harness.ts";
import { startTcpOnlyStack, TcpPeer, within } from "../support/tcp.ts";
import { LO } from "../support/udp.ts";

let stack: RunningStack;
const streamed = new StreamedCalls();
const calls = streamed.calls;
/** A werift call over ICE-TCP, its answer from the edge. */
const edgeCall = () => openEdgeCall(stack.edge!.url, { tcp: true });

const totals = async () => (await stack.ingressHosts[0]!.view()).total;
const nominated = (c: AudioCall) => c.client.pc.iceTransports[0]!.connection.nominated!;

beforeAll(async () => {
  stack = await startTcpOnlyStack(61);
});

afterAll(async () => {
  await streamed.close();
  await stack?.close();
});

describe("Global Relay over ICE-TCP", () => {
  it("the edge's answer offers only the ingress's passive TCP candidate, and werift calls run over it, audio both ways", async () => {
    const tcpPort = stack.ingressTcpAddresses[0]!.port;
    expect(tcpPort).toBe(stack.topology.regions[0]!.ingressTcpPort);
    for (let i = 0; i < 3; i++) calls.push(await edgeCall());
    for (const sdp of calls.map((c) => c.answer)) {
      const candidates = sdp.split("\r\n").filter((l) => l.startsWith("a=candidate:"));
      expect(candidates.length).toBeGreaterThan(0);
      for (const c of candidates)
        expect(c).toMatch(
          new RegExp(`^a=candidate:\\S+ 1 tcp \\d+ 127\\.0\\.0\\.1 ${tcpPort} typ host tcptype passive`),
        );
    }
    streamed.stream();
    await waitUntil(() => calls.every((c) => c.arrivals.length >= 25), 10_000, "echoed audio on every call");
    for (const c of calls) {
      const pair = nominated(c);
      expect(pair.localCandidate.transport).toBe("tcp");
      expect(pair.remoteCandidate.transport).toBe("tcp");
      expect(pair.remoteCandidate.port).toBe(tcpPort);
    }
    // Data channel too, over the same connection.
    const echoed = new Promise<string>((r) =>
      calls[0]!.client.channel.onMessage.subscribe((m) => r(String(m))),
    );
    calls[0]!.client.channel.send("over tcp");
    expect(await echoed).toBe("over tcp");
    const t = await totals();
    expect(t.stats.tcpAccepted).toBeGreaterThanOrEqual(3);
    expect(t.stats.flowsOpened).toBeGreaterThanOrEqual(3);
    expect(t.tcpConnections).toBeGreaterThanOrEqual(3);
    expect(t.stats.drops.amplification).toBe(0);
    expect(t.stats.tcpCloses.oversize).toBe(0); // werift's frames (its DTLS flights too) fit the default bound
  });

  it("garbage, partial frames and a forged hint on the TCP port are closed and counted; live TCP and UDP calls go on", async () => {
    // A UDP call beside the TCP ones, answered by the transceiver directly (its answer has both candidates).
    const udp = await openCall(
      stack.transceivers[0]!.url,
      `${LO}:${stack.topology.regions[0]!.ingressPort}`,
      stack.token,
    );
    calls.push(udp);
    expect(nominated(udp).localCandidate.transport).toBe("udp");
    streamed.stream();
    await waitUntil(() => udp.arrivals.length >= 10, 5000, "audio on the UDP call");
    const before = (await totals()).stats;
    const at = stack.ingressTcpAddresses[0]!;
    const start = Date.now();
    const bad = await Promise.all([TcpPeer.open(at), TcpPeer.open(at), TcpPeer.open(at), TcpPeer.open(at)]);
    const [garbage, partial, forged] = bad; // the fourth sends nothing at all
    garbage!.sendRaw(Buffer.from("\x16\x03\x01\x02\x00 not a frame at all, a TLS hello perhaps"));
    partial!.sendRaw(Buffer.from([0x00, 0x64, 0x00, 0x01])); // a 100-byte frame, 2 bytes of it
    const forgedHint = hint(1).slice(0, -2) + (hint(1).endsWith("AA") ? "BB" : "AA");
    forged!.send(binding(forgedHint));
    expect(await within(Promise.all(bad.map((b) => b.closed)), 15_000)).toBe(true);
    const after = (await totals()).stats;
    const closed = (r: keyof typeof after.tcpCloses) => after.tcpCloses[r] - before.tcpCloses[r];
    expect(closed("oversize") + closed("first-frame")).toBe(2); // garbage reads as an oversize length
    expect(closed("frame-timeout") + closed("first-frame-timeout")).toBe(2);
    expect(after.drops["bad-hint"] - before.drops["bad-hint"]).toBe(1);
    // Every live call kept its audio all along.
    const end = Date.now();
    for (const c of calls) {
      const during = c.arrivals.filter((t) => t >= start && t <= end).length;
      expect(during, `echoes during the bad input (${end - start} ms)`).toBeGreaterThan(
        (end - start) / 20 / 2,
      );
    }
  });

  it("kill -9 of the ingress: each TCP call sees its connection close (ICE fails at once); a new call works", async () => {
    const ingress = stack.ingressHosts[0]!;
    const tcpCalls = calls.filter((c) => nominated(c).localCandidate.transport === "tcp");
    const pids = ingress.pids();
    const restartsBefore = ingress.restarts();
    for (const pid of pids) process.kill(pid, "SIGKILL");
    // werift fails a call whose selected TCP connection closed, without waiting for consent to expire.
    await waitUntil(
      () => tcpCalls.every((c) => c.client.pc.connectionState === "failed"),
      10_000,
      "every TCP call to see its connection gone",
    );
    // Restarted and listening again: every worker answers for its new process.
    await waitUntil(
      async () =>
        ingress.restarts() === restartsBefore + pids.length &&
        (await ingress.view()).workers.filter((w) => !pids.includes(w.pid)).length === pids.length,
      30_000,
      "the ingress workers to listen again",
    );
    const fresh = await edgeCall();
    calls.push(fresh);
    streamed.stream([fresh]);
    await waitUntil(() => fresh.arrivals.length >= 25, 10_000, "audio on the new call");
    expect(nominated(fresh).localCandidate.transport).toBe("tcp");
  }, 120_000);
});
