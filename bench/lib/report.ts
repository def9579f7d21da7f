/** Benchmark output: a readable table and one JSON line (for machines). */
import { readFileSync } from "node:fs";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Empty lists of samples, one for each name. */
export function samples<K extends string>(...names: K[]): Record<K, number[]> {
  return Object.fromEntries(names.map((n) => [n, []])) as unknown as Record<K, number[]>;
}

/** p50 and p99 of unsorted samples. */
export function p50p99(xs: number[]): { p50: number; p99: number } {
  const v = [...xs].sort((a, b) => a - b);
  return { p50: percentile(v, 50), p99: percentile(v, 99) };
}

/** "p50 / p99" with one decimal, for a table row. */
export function fmtP50P99(xs: number[]): string {
  const q = p50p99(xs);
  return `${q.p50.toFixed(1)} / ${q.p99.toFixed(1)}`;
}

export function report(name: string, rows: [string, string | number][], json: Record<string, unknown>): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${name}`);
  console.log("-".repeat(w + 20));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${typeof v === "number" ? fmt(v) : v}`);
  console.log(JSON.stringify({ bench: name, ...json }));
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1);
}

/** Resident memory of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
