/** Bundles edge/worker.ts for workerd once per process (esbuild, ~100 ms): for Miniflare in the stack and tests. */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const entry = fileURLToPath(new URL("../../edge/worker.ts", import.meta.url));
let bundled: Promise<string> | undefined;

export function bundleWorker(): Promise<string> {
  bundled ??= build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:*"],
    target: "es2022",
    write: false,
    logLevel: "silent",
  }).then((r) => r.outputFiles[0]!.text);
  return bundled;
}

/**
 * What Miniflare needs to run the edge Worker as wrangler.toml deploys it (the
 * module, compatibility date, the HEALTH Durable Object) with `bindings`;
 * callers add where it listens, `cf` and log handling.
 */
export async function edgeWorkerOptions(bindings: Record<string, string>) {
  return {
    modules: [{ type: "ESModule" as const, path: "worker.js", contents: await bundleWorker() }],
    compatibilityDate: "2026-11-01", // wrangler.toml's compatibility_date
    durableObjects: { HEALTH: { className: "HealthState", useSQLite: true } },
    bindings,
  };
}
