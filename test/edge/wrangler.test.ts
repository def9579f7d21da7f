/**
 * wrangler.toml: every environment wires the Worker the same way, staging and
 * production carry a valid topology, and `wrangler dev` serves the edge locally.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { buildRuntime } from "../../edge/runtime.ts";
import { edgeWorkerOptions } from "../../media/stack/edge-bundle.ts";
import { closedPort } from "./support/fake-transceiver.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const configPath = join(root, "wrangler.toml");

describe("wrangler.toml", () => {
  it.each([
    [undefined, "voice-edge", "dev"],
    ["dev", "voice-edge-dev", "dev"],
    ["staging", "voice-edge-staging", "staging"],
    ["production", "voice-edge-production", "production"],
  ])("environment %s deploys the Worker with its Durable Object and Cron Trigger", (env, name, edgeEnv) => {
    const c = unstable_readConfig({ config: configPath, env }, {});
    expect(c.name).toBe(name);
    expect(c.main).toBe(join(root, "edge/worker.ts"));
    expect(c.durable_objects.bindings).toEqual([{ name: "HEALTH", class_name: "HealthState" }]);
    expect(c.migrations).toEqual([{ tag: "v1", new_sqlite_classes: ["HealthState"] }]);
    expect(c.triggers.crons).toEqual(["* * * * *"]);
    const vars = c.vars as Record<string, string>;
    expect(vars.VOICE_EDGE_ENV).toBe(edgeEnv);
    // Secrets never live in the file; with them set, the environment's settings must validate.
    expect(vars.API_KEYS).toBeUndefined();
    const r = buildRuntime({
      ...vars,
      API_KEYS: "sk-deployed-key",
      EDGE_SIGNING_KEY: "s".repeat(32),
      TRANSCEIVER_TOKEN: "t".repeat(32),
    });
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it("is what Miniflare runs in the stack and the tests: same compatibility date and Durable Object", async () => {
    const c = unstable_readConfig({ config: configPath }, {});
    const local = await edgeWorkerOptions({});
    expect(local.compatibilityDate).toBe(c.compatibility_date);
    expect(Object.entries(local.durableObjects).map(([name, d]) => [name, d.className])).toEqual(
      c.durable_objects.bindings.map((b: { name: string; class_name: string }) => [b.name, b.class_name]),
    );
  });
});

describe("wrangler dev", () => {
  let child: ChildProcess | undefined;
  const scratch = mkdtempSync(join(tmpdir(), "voice-edge-wrangler-"));
  afterAll(() => {
    // Its own process group: wrangler and the workerd it spawned go together.
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
    rmSync(scratch, { recursive: true, force: true });
  });

  it("serves the edge on loopback with the built-in dev topology and keys", async () => {
    const [port, inspector] = [await closedPort(), await closedPort()];
    child = spawn(
      process.execPath,
      [
        join(root, "node_modules/wrangler/bin/wrangler.js"),
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspector),
        "--persist-to",
        join(scratch, "state"),
      ],
      {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: "false",
          XDG_CONFIG_HOME: scratch,
          CI: "1",
          NO_COLOR: "1",
        },
      },
    );
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes(`Ready on http://127.0.0.1:${port}`)) resolve();
      };
      child!.stdout!.on("data", onData);
      child!.stderr!.on("data", onData);
      child!.once("exit", (code) => reject(new Error(`wrangler dev exited with ${code}:\n${output}`)));
    });

    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok", pools: 2 });
    const minted = await fetch(`${base}/v1/realtime/client_secrets`, {
      method: "POST",
      headers: { authorization: "Bearer sk-voice-edge-dev-key", "content-type": "application/json" },
      body: "{}",
    });
    expect(minted.status).toBe(200);
    expect(((await minted.json()) as { value: string }).value).toMatch(/^ek_/);
    expect((await fetch(`${base}/cdn-cgi/local/scheduled`)).status).toBe(200);
    // The Cron run probed both loopback transceivers (whether or not anything listens there).
    const health = await fetch(`${base}/v1/edge/health`, {
      headers: { authorization: "Bearer sk-voice-edge-dev-key" },
    });
    const { pools } = (await health.json()) as {
      pools: Array<{ health: { last_probe_at: number | null } | null }>;
    };
    expect(pools.map((p) => typeof p.health?.last_probe_at)).toEqual(["number", "number"]);
  });
});
