/** Loads deploy/k8s/**.yaml the way Kubernetes reads it (YAML 1.1: `off`, `no` and `yes` are booleans). */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const K8S_DIR = join(ROOT, "deploy/k8s");

/** One Kubernetes object, with where it came from. Objects are plain JSON data. */
export interface Manifest {
  /** Path relative to deploy/k8s, e.g. "relay.yaml" or "examples/secret.yaml". */
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked by the schema tests
  obj: any;
}

export function yamlFiles(dir = K8S_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .map((f) => relative(dir, join(dir, f)))
    .sort();
}

export function parseYaml(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text, { version: "1.1" });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: unknown[] = [];
  for (const d of list) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join("; ")}`);
    const js = d.toJS();
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

/** Every object under deploy/k8s except the kustomization itself. */
export function loadManifests(dir = K8S_DIR): Manifest[] {
  const out: Manifest[] = [];
  for (const file of yamlFiles(dir)) {
    if (file === "kustomization.yaml") continue;
    for (const obj of parseYaml(readFileSync(join(dir, file), "utf8"), file)) {
      const o = obj as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
      out.push({
        file,
        apiVersion: String(o.apiVersion),
        kind: String(o.kind),
        name: String(o.metadata?.name),
        obj,
      });
    }
  }
  return out;
}

export function loadKustomization(dir = K8S_DIR): { resources?: string[]; namespace?: string } {
  return parseYaml(readFileSync(join(dir, "kustomization.yaml"), "utf8"), "kustomization.yaml")[0] as {
    resources?: string[];
    namespace?: string;
  };
}
