/** Every manifest under deploy/k8s against the Kubernetes schemas (kubernetes-models, offline). */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { K8S_DIR, loadKustomization, loadManifests, parseYaml, yamlFiles } from "./support/manifests.ts";
import { unknownFields, validate } from "./support/schema.ts";

const manifests = loadManifests();

describe("deploy/k8s manifests", () => {
  it("are all loaded (a file that parses to nothing would slip through)", () => {
    const files = new Set(manifests.map((m) => m.file));
    for (const f of yamlFiles()) if (f !== "kustomization.yaml") expect(files, f).toContain(f);
    expect(manifests.length).toBeGreaterThanOrEqual(15);
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.kind}/${m.name}`, m] as const))(
    "%s is valid for its apiVersion and kind",
    async (_, m) => {
      await expect(validate(m.obj)).resolves.toBeUndefined();
      expect(unknownFields(m.obj)).toEqual([]);
    },
  );

  it("have unique kind/name pairs and one namespace", () => {
    const keys = manifests.map((m) => `${m.kind}/${m.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const m of manifests.filter((x) => x.kind !== "Namespace"))
      expect(m.obj.metadata.namespace, `${m.kind}/${m.name}`).toBe("voice-edge");
  });

  it("are all in the kustomization, except the examples; every resource exists", () => {
    const k = loadKustomization();
    expect(k.namespace).toBe("voice-edge");
    for (const r of k.resources ?? []) expect(existsSync(join(K8S_DIR, r)), r).toBe(true);
    const expected = yamlFiles().filter((f) => f !== "kustomization.yaml" && !f.startsWith("examples/"));
    expect([...(k.resources ?? [])].sort()).toEqual(expected);
  });
});

describe("the schema checks catch mistakes", () => {
  const deployment = () => structuredClone(manifests.find((m) => m.kind === "Deployment")!.obj);

  it("a wrong type", async () => {
    const d = deployment();
    d.spec.template.spec.containers[0].ports[0].containerPort = "3478";
    await expect(validate(d)).rejects.toThrow(/containerPort/);
  });

  it("a missing required field", async () => {
    const d = deployment();
    delete d.spec.selector;
    await expect(validate(d)).rejects.toThrow(/selector/);
  });

  it("a value outside an enum", async () => {
    const svc = structuredClone(manifests.find((m) => m.kind === "Service")!.obj);
    svc.spec.ports[0].protocol = "QUIC";
    await expect(validate(svc)).rejects.toThrow(/protocol/);
  });

  it("misspelt and misplaced fields, at any depth", () => {
    const d = deployment();
    d.spec.template.spec.containers[0].readinesProbe = d.spec.template.spec.containers[0].readinessProbe;
    d.spec.template.spec.containers[0].resources.limit = { memory: "1Gi" };
    d.spec.replica = 3;
    expect(unknownFields(d)).toEqual([
      "spec.template.spec.containers[0].resources.limit: unknown field",
      "spec.template.spec.containers[0].readinesProbe: unknown field",
      "spec.replica: unknown field",
    ]);
  });

  it("an unknown kind", async () => {
    await expect(validate({ apiVersion: "apps/v1", kind: "Deploymnet" })).rejects.toThrow(/unknown/);
  });

  it("YAML 1.1 booleans, as Kubernetes reads them (an env value `off` is not a string)", async () => {
    const [cm] = parseYaml(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {A: off}\n",
      "x.yaml",
    );
    await expect(validate(cm as { apiVersion: string; kind: string })).rejects.toThrow(/data/);
  });
});
