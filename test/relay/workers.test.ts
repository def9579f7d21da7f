/**
 * `voice-edge relay --workers 2`: two processes on one public port
 * (SO_REUSEPORT) under a supervisor. The kernel spreads clients over them; a
 * worker killed with SIGKILL is restarted, and its clients go on through the
 * other worker (and back) by their flow records in Redis, without STUN.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { dropKeys, REDIS_URL, sharedRedisAvailable, uniquePrefix, waitForKeys } from "../support/redis.ts";
import {
  binding,
  CLUSTER,
  ENCAP_KEYS_SPEC,
  expectedIo,
  hint,
  KEYS_SPEC,
  rtp,
} from "../support/relay-fixtures.ts";
import { freePort } from "../support/stack.ts";
import { echoTransceiver, LO, Peer, until } from "../support/udp.ts";

const BIN = fileURLToPath(new URL("../../bin/voice-edge.js", import.meta.url));
const shared = await sharedRedisAvailable("relay workers test");
const prefix = uniquePrefix("workers");
const children: ChildProcess[] = [];
const peers: Peer[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(peers.map((p) => p.close()));
  if (shared) await dropKeys(REDIS_URL, prefix);
});

function metric(text: string, name: string, labels = ""): number {
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ""} (\\d+)`, "m");
  return Number(re.exec(text)?.[1] ?? Number.NaN);
}

describe.skipIf(!shared)("relay workers", () => {
  it("spreads clients over two workers; a killed worker is restarted and its clients carry on through Redis", async () => {
    const tx = await echoTransceiver();
    peers.push(tx);
    const adminPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        BIN,
        "relay",
        "--workers",
        "2",
        "--listen",
        `${LO}:0`,
        "--internal",
        `${LO}:0`,
        "--cluster",
        String(CLUSTER),
        "--keys",
        KEYS_SPEC,
        "--encap-keys",
        ENCAP_KEYS_SPEC,
        "--admin",
        `${LO}:${adminPort}`,
        "--redis",
        REDIS_URL,
        "--flow-prefix",
        prefix,
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, VOICE_EDGE_LOG_LEVEL: "info" } },
    );
    children.push(child);
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    while (!out.includes('"relay listening"')) await once(child.stdout!, "data");
    const start = JSON.parse(out.split("\n").find((l) => l.includes('"relay listening"'))!);
    expect(start).toMatchObject({ workers: 2, redis: "on", cluster: CLUSTER, io: expectedIo() });
    const port = Number(start.public.split(":")[1]);
    const pids = start.pids as number[];
    expect(pids).toHaveLength(2);
    const metrics = async () => (await fetch(`http://${LO}:${adminPort}/metrics`)).text();

    const N = 40;
    const clients = await Promise.all(Array.from({ length: N }, () => Peer.open()));
    peers.push(...clients);
    for (const c of clients) {
      await c.send(binding(hint(tx.port)), { address: LO, port });
      await c.next();
    }
    const before = await metrics();
    const on0 = metric(before, "voice_edge_relay_worker_flows", 'worker="0"');
    const on1 = metric(before, "voice_edge_relay_worker_flows", 'worker="1"');
    expect(on0 + on1).toBe(N);
    expect(on0).toBeGreaterThan(0);
    expect(on1).toBeGreaterThan(0);
    expect(metric(before, "voice_edge_relay_flows")).toBe(N);
    await waitForKeys(REDIS_URL, prefix, N);

    // Every client sends every 20 ms; note when its echoes arrive.
    const arrivals: number[][] = clients.map(() => []);
    clients.forEach((c, i) => {
      c.onDatagram = () => arrivals[i]!.push(Date.now());
    });
    const sending = setInterval(() => {
      for (const c of clients) c.socket.send(rtp(60), port, LO);
    }, 20);
    try {
      await until(() => arrivals.every((a) => a.length >= 5), 3000, "echoes on every flow");
      const killedAt = Date.now();
      process.kill(pids[0]!, "SIGKILL");
      await until(
        () => arrivals.every((a) => a.some((t) => t > killedAt + 300)),
        5000,
        "every client's echoes again",
      );
      await until(() => out.includes('"relay worker restarted"'), 5000, "the restart");
      const restartedAt = Date.now();
      await until(
        () => arrivals.every((a) => a.some((t) => t > restartedAt + 300)),
        5000,
        "echoes after the restart",
      );
      // The longest silence any client saw: bounded by the lookup, not by a STUN check (none was sent).
      const gaps = arrivals.map((a) => Math.max(...a.slice(1).map((t, i) => t - a[i]!)));
      expect(Math.max(...gaps)).toBeLessThan(1000);
    } finally {
      clearInterval(sending);
    }
    const after = await metrics();
    expect(metric(after, "voice_edge_relay_worker_restarts_total")).toBe(1);
    expect(metric(after, "voice_edge_relay_workers")).toBe(2);
    expect(metric(after, "voice_edge_relay_flow_events_total", 'event="recovered"')).toBeGreaterThanOrEqual(
      on0,
    );
    expect(metric(after, "voice_edge_relay_flow_events_total", 'event="opened"')).toBe(N);
    expect(metric(after, "voice_edge_relay_redis_lookups_total", 'result="hit"')).toBeGreaterThanOrEqual(on0);
    // Totals never go down, though a worker's own counters died with it.
    expect(metric(after, "voice_edge_relay_packets_total", 'path="from_client"')).toBeGreaterThanOrEqual(
      metric(before, "voice_edge_relay_packets_total", 'path="from_client"'),
    );

    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    const last = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(last).toMatchObject({ msg: "relay closed", flowsOpened: N });
    expect(out).toContain('"relay worker died: restarting it');
  });
});
