/**
 * Kubernetes schema checks, offline, with kubernetes-models:
 * - validate(): the package's precompiled JSON-schema validators (types, required
 *   fields, enums, formats) for the object's apiVersion and kind;
 * - unknownFields(): what `kubectl apply` (strict field validation) would reject but the
 *   OpenAPI schemas allow: fields that do not exist, e.g. a misspelt `readinesProbe`.
 *   The field tree comes from the package's generated type declarations (one
 *   interface per file, one `"field"?: Type;` per line).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "./manifests.ts";

const MODELS = join(ROOT, "node_modules/kubernetes-models");

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Throws with the schema errors if the object is not valid for its apiVersion/kind. */
export async function validate(obj: { apiVersion?: unknown; kind?: unknown }): Promise<void> {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string")
    throw new Error("apiVersion and kind are required");
  if (!existsSync(join(MODELS, apiVersion, `${kind}.d.ts`)))
    throw new Error(`unknown apiVersion/kind ${apiVersion} ${kind}`);
  const specifier = `kubernetes-models/${apiVersion}`;
  const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, ModelClass>;
  const Model = mod[kind];
  if (!Model) throw new Error(`kubernetes-models has no ${kind} in ${apiVersion}`);
  new Model(obj).validate();
}

type FieldType = { array: boolean; file?: string };
type Fields = Map<string, FieldType> | undefined; // undefined: a leaf type (Quantity, IntOrString, ...)

const cache = new Map<string, Fields>();

function resolveImport(from: string, spec: string): string {
  const base = spec.endsWith(".js") ? spec.slice(0, -3) : spec;
  const path = base.startsWith(".")
    ? join(dirname(from), `${base}.d.ts`)
    : join(ROOT, "node_modules", `${base}.d.ts`);
  if (!existsSync(path)) throw new Error(`cannot resolve ${spec} from ${from}`);
  return path;
}

function fieldsOf(file: string): Fields {
  if (cache.has(file)) return cache.get(file);
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{([^}]*)\} from "([^"]+)";$/gm)) {
    for (const name of m[1]!.split(",").map((s) => s.trim())) imports.set(name, m[2]!);
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text)?.[1];
  let fields: Fields;
  if (body !== undefined) {
    fields = new Map();
    for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
      let type = m[2]!.replace(/;$/, "");
      const array = /^Array<.*>$/.test(type);
      if (array) type = type.slice(6, -1);
      const spec = imports.get(type);
      fields.set(m[1]!, { array, file: spec ? resolveImport(file, spec) : undefined });
    }
  }
  cache.set(file, fields);
  return fields;
}

function walk(data: unknown, file: string, path: string, problems: string[]): void {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return;
  const fields = fieldsOf(file);
  if (!fields) return;
  for (const [key, value] of Object.entries(data)) {
    const f = fields.get(key);
    if (!f) {
      problems.push(`${path}${path ? "." : ""}${key}: unknown field`);
      continue;
    }
    if (!f.file) continue;
    const at = `${path}${path ? "." : ""}${key}`;
    if (f.array && Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, f.file, `${at}[${i}]`, problems);
    } else walk(value, f.file, at, problems);
  }
}

/** Paths of fields that the object's kind does not have. */
export function unknownFields(obj: { apiVersion?: unknown; kind?: unknown }): string[] {
  const file = join(MODELS, String(obj.apiVersion), `${String(obj.kind)}.d.ts`);
  if (!existsSync(file)) return [`unknown apiVersion/kind ${String(obj.apiVersion)} ${String(obj.kind)}`];
  const problems: string[] = [];
  walk(obj, file, "", problems);
  return problems;
}
