/** `voice-edge relay` as an operator runs it: spawned with the pinned Node. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { RELAY_V8_FLAGS } from "../../media/relay/heap-flags.ts";
import {
  binding,
  CLUSTER,
  ENCAP_KEYS_SPEC,
  encapped,
  expectedIo,
  hint,
  KEYS_SPEC,
} from "../support/relay-fixtures.ts";
import { Peer } from "../support/udp.ts";

const BIN = fileURLToPath(new URL("../../bin/voice-edge.js", import.meta.url));
const children: ChildProcess[] = [];

/** Any free loopback ports, the test keys, no admin listener. */
const ON_LOOPBACK = [
  "--listen",
  "127.0.0.1:0",
  "--internal",
  "127.0.0.1:0",
  "--keys",
  KEYS_SPEC,
  "--encap-keys",
  ENCAP_KEYS_SPEC,
  "--admin",
  "off",
];

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, "relay", ...args], {
    env: { ...process.env, VOICE_EDGE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = once(child, "exit").then(([code]) => ({ code: code as number, stdout, stderr }));
  return {
    child,
    exited,
    /** The first log line, once written. */
    async firstLine() {
      while (!stdout.includes("\n")) await once(child.stdout, "data");
      return JSON.parse(stdout.split("\n")[0]!);
    },
    /** SIGTERM; the exit code and every log line. */
    async terminate() {
      child.kill("SIGTERM");
      const { code } = await exited;
      return {
        code,
        lines: stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l)),
      };
    },
  };
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

describe("voice-edge relay", () => {
  it("--help lists every option with its variable and default", async () => {
    const { code, stdout } = await run(["--help"]).exited;
    expect(code).toBe(0);
    for (const s of [
      "usage: voice-edge relay",
      "--listen (VOICE_EDGE_RELAY_LISTEN)",
      "[default: 0.0.0.0:3478]",
      "--internal (VOICE_EDGE_RELAY_INTERNAL)",
      "--cluster (VOICE_EDGE_CLUSTER)",
      "--keys (VOICE_EDGE_HINT_KEYS)",
      "--encap-keys (VOICE_EDGE_ENCAP_KEYS)",
      "--idle-timeout",
      "[default: 30]",
      "--max-flows",
      "--admin",
      "[default: 127.0.0.1:9478]",
      "--io (VOICE_EDGE_RELAY_IO)",
      "[default: auto]",
    ])
      expect(stdout).toContain(s);
  });

  it("names each bad option and its variable, and exits 1", async () => {
    const { code, stderr } = await run(
      ["--cluster", "abc", "--listen", "localhost:3478", "--max-flows", "0"],
      {
        VOICE_EDGE_HINT_KEYS: KEYS_SPEC,
        VOICE_EDGE_RELAY_ADMIN: "everywhere",
        VOICE_EDGE_RELAY_IO: "epoll",
      },
    ).exited;
    expect(code).toBe(1);
    expect(stderr).toContain("voice-edge relay: invalid options");
    expect(stderr).toContain("--cluster / VOICE_EDGE_CLUSTER: expected a cluster id 0..65535");
    expect(stderr).toContain("--listen / VOICE_EDGE_RELAY_LISTEN: expected host:port with an IP literal");
    expect(stderr).toContain("--max-flows / VOICE_EDGE_RELAY_MAX_FLOWS: expected a positive integer");
    expect(stderr).toContain('--admin / VOICE_EDGE_RELAY_ADMIN: expected host:port or "off"');
    expect(stderr).toContain('--io / VOICE_EDGE_RELAY_IO: expected "dgram", "batch" or "auto"');
    expect(stderr).not.toContain("    at "); // no stack trace
  });

  it("says which required option is missing, and rejects a short key", async () => {
    const missing = await run([]).exited;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("--cluster / VOICE_EDGE_CLUSTER: required");
    expect(missing.stderr).toContain("--keys / VOICE_EDGE_HINT_KEYS: required");
    expect(missing.stderr).toContain("--encap-keys / VOICE_EDGE_ENCAP_KEYS: required");
    const short = await run(["--cluster", "1", "--keys", "1:abcd", "--encap-keys", ENCAP_KEYS_SPEC]).exited;
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("hint key 1 is shorter than 16 bytes");
    const shortEncap = await run(["--cluster", "1", "--keys", KEYS_SPEC, "--encap-keys", "2:abcd"]).exited;
    expect(shortEncap.code).toBe(1);
    expect(shortEncap.stderr).toContain("encapsulation key 2 is shorter than 16 bytes");
  });

  it("logs where it listens, relays, and closes cleanly on SIGTERM", async () => {
    const transceiver = await Peer.open();
    const client = await Peer.open();
    try {
      const r = run([...ON_LOOPBACK, "--cluster", String(CLUSTER)]);
      const start = await r.firstLine();
      expect(start).toMatchObject({
        msg: "relay listening",
        service: "relay",
        cluster: CLUSTER,
        admin: "off",
        io: expectedIo(),
      });
      // Re-executed in place with the relay's V8 flags: same pid, the flags on its command line.
      expect(start.pid).toBe(r.child.pid);
      expect(readFileSync(`/proc/${r.child.pid}/cmdline`, "utf8").split("\0")).toEqual(
        expect.arrayContaining([...RELAY_V8_FLAGS, BIN, "relay"]),
      );
      const port = Number(start.public.split(":")[1]);
      const req = binding(hint(transceiver.port));
      await client.send(req, { address: "127.0.0.1", port });
      const got = await transceiver.next();
      expect(got.msg).toEqual(encapped("127.0.0.1", client.port, req));

      const { code, lines } = await r.terminate();
      expect(code).toBe(0);
      expect(lines.at(-1)).toMatchObject({ msg: "relay closed", flowsOpened: 1, forwardedPackets: 1 });
    } finally {
      await transceiver.close();
      await client.close();
    }
  });

  it("refuses a bad tier, options of the other tier, and bad tier settings, naming each", async () => {
    const ingress = await run(["--tier", "ingress", "--keys", KEYS_SPEC, "--ingresses", "10.0.0.1"]).exited;
    expect(ingress.code).toBe(1);
    expect(ingress.stderr).toContain("--clusters / VOICE_EDGE_RELAY_CLUSTERS: required with --tier ingress");
    expect(ingress.stderr).toContain("--ingresses / VOICE_EDGE_RELAY_INGRESSES: only for --tier cluster");
    expect(ingress.stderr).not.toContain("--cluster / VOICE_EDGE_CLUSTER"); // an ingress has no cluster of its own

    const cluster = await run(
      ["--cluster", "1", "--keys", KEYS_SPEC, "--clusters", "1=10.0.0.5:3479", "--ingresses", "10.0.0.0/40"],
      { VOICE_EDGE_RELAY_WORKERS: "0", REDIS_URL: "http://localhost" },
    ).exited;
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toContain("--clusters / VOICE_EDGE_RELAY_CLUSTERS: only for --tier ingress");
    expect(cluster.stderr).toContain(
      '--ingresses / VOICE_EDGE_RELAY_INGRESSES: "10.0.0.0/40" is not an IP literal',
    );
    expect(cluster.stderr).toContain("--workers / VOICE_EDGE_RELAY_WORKERS: expected an integer 1..256");
    expect(cluster.stderr).toContain("--redis / REDIS_URL: redis URL");

    const bad = await run(["--tier", "edge", "--keys", KEYS_SPEC, "--cluster", "1"]).exited;
    expect(bad.stderr).toContain('--tier / VOICE_EDGE_RELAY_TIER: expected "cluster" or "ingress"');
    const map = await run([
      "--tier",
      "ingress",
      "--keys",
      KEYS_SPEC,
      "--clusters",
      "1=10.0.0.5:3479,1=10.0.0.6:3479",
    ]).exited;
    expect(map.stderr).toContain("--clusters / VOICE_EDGE_RELAY_CLUSTERS: cluster 1 is listed twice");
  });

  it("runs an ingress in one process: routes a flow to its cluster's relay, and drains on SIGTERM", async () => {
    const clusterRelay = await Peer.open();
    const client = await Peer.open();
    try {
      const r = run([
        ...ON_LOOPBACK,
        "--tier",
        "ingress",
        "--workers",
        "1",
        "--clusters",
        `${CLUSTER}=127.0.0.1:${clusterRelay.port}`,
      ]);
      const start = await r.firstLine();
      expect(start).toMatchObject({
        msg: "relay listening",
        tier: "ingress",
        clusters: `${CLUSTER}=127.0.0.1:${clusterRelay.port}`,
      });
      const port = Number(start.public.split(":")[1]);
      // The hint names a transceiver (port 9), but an ingress routes by cluster.
      const req = binding(hint(9));
      await client.send(req, { address: "127.0.0.1", port });
      const got = await clusterRelay.next();
      expect(got.msg).toEqual(encapped("127.0.0.1", client.port, req));

      const { code, lines } = await r.terminate();
      expect(code).toBe(0);
      expect(lines.map((l) => l.msg)).toContain("relay draining: no new flows");
      expect(lines.at(-1)).toMatchObject({ msg: "relay closed", flowsOpened: 1 });
    } finally {
      await clusterRelay.close();
      await client.close();
    }
  });
});
