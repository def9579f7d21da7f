import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonTooDeep, MAX_JSON_DEPTH, parseBoundedJson } from "../../shared/json-bounds.ts";

const nested = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

describe("JSON depth bound", () => {
  it("allows up to the bound and refuses one level more, objects or arrays", () => {
    expect(jsonTooDeep(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonTooDeep(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonTooDeep("[".repeat(100_000))).toBe(true);
    expect(parseBoundedJson(nested(5000))).toEqual({ ok: false, reason: "depth" });
    expect(parseBoundedJson(nested(3))).toEqual({ ok: true, value: { a: { a: { a: 1 } } } });
    expect(parseBoundedJson("{nope")).toEqual({ ok: false, reason: "syntax" });
  });

  it("ignores brackets inside strings, escaped quotes included", () => {
    expect(jsonTooDeep(JSON.stringify({ s: "[".repeat(100) }))).toBe(false);
    expect(jsonTooDeep(JSON.stringify({ s: `\\"${"{".repeat(100)}` }))).toBe(false);
    expect(jsonTooDeep(`{"s":"\\\\"${"[".repeat(40)}`)).toBe(true);
  });

  it("agrees with the real depth of any value", () => {
    const depth = (v: unknown): number =>
      v !== null && typeof v === "object"
        ? 1 + Math.max(0, ...Object.values(v as Record<string, unknown>).map(depth))
        : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (v, max) => {
        expect(jsonTooDeep(JSON.stringify(v), max)).toBe(depth(v) > max);
      }),
    );
  });
});
