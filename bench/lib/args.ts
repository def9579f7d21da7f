/**
 * A bench's command line: `--name value` options, each with its default,
 * whose type says how it is read: a number, a string, or a repeatable string.
 */
import { parseArgs } from "node:util";

type Spec = Record<string, number | string | string[]>;
type Values<S extends Spec> = { [K in keyof S]: S[K] extends number ? number : S[K] };

export function benchArgs<S extends Spec>(spec: S): Values<S> {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, d]) => [
      name,
      Array.isArray(d)
        ? { type: "string" as const, multiple: true as const, default: d }
        : { type: "string" as const, default: String(d) },
    ]),
  );
  const { values } = parseArgs({ options });
  return Object.fromEntries(
    Object.entries(spec).map(([name, d]) => {
      const v = values[name];
      if (typeof d !== "number") return [name, v];
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`--${name}: ${String(v)} is not a number`);
      return [name, n];
    }),
  ) as Values<S>;
}
