/**
 * `npm run bench`: every benchmark, one after another (they measure CPU, so
 * never in parallel), each printing its table and JSON line. Pass names to
 * run only some: `npm run bench -- relay transceiver`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run-all.ts")
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  console.log(`\n=== bench/${name}.ts`);
  const r = spawnSync(process.execPath, [`${dir}${name}.ts`], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${name}.ts exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
