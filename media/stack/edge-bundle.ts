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
