/** deploy/Dockerfile and .dockerignore, read as text (there is no Docker engine to build with here). */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { dockerIgnored, execForm, parseDockerfile } from "./support/dockerfile.ts";
import { appContainer } from "./support/invariants.ts";
import { loadManifests, ROOT } from "./support/manifests.ts";

const DOCKERFILE = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
const DOCKERIGNORE = readFileSync(join(ROOT, ".dockerignore"), "utf8");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const NODE_SLIM = /^node:24(\.\d+){0,2}(-[a-z]+)?-slim$/;

/** The Dockerfile's rules; returns problems. */
function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const { args, stages } = parseDockerfile(text);
  if (stages.length < 2)
    problems.push(`${stages.length} stage(s): expected a build stage and a runtime stage`);
  for (const s of stages)
    if (!NODE_SLIM.test(s.base)) problems.push(`base ${s.base} is not a Node 24 slim image`);
  if (args.get("NODE_VERSION") !== pkg.devDependencies.node)
    problems.push(
      `NODE_VERSION ${args.get("NODE_VERSION")} is not the pinned node ${pkg.devDependencies.node}`,
    );
  const final = stages.at(-1);
  const builds = stages.slice(0, -1);
  const runs = builds.flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args));
  if (!runs.some((r) => /\bnpm ci\b/.test(r) && /--omit=dev\b/.test(r)))
    problems.push("no `npm ci --omit=dev` in a build stage");
  if (!final) return problems;
  const runtimeRuns = final.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
  if (runtimeRuns.some((r) => /\bnpm (ci|install|i)\b/.test(r)))
    problems.push("npm runs in the runtime stage");
  const copies = final.instructions.filter((i) => i.keyword === "COPY");
  const fromBuild = copies.find((c) => /--from=(\S+)/.test(c.args) && /node_modules/.test(c.args));
  const buildName = /--from=(\S+)/.exec(fromBuild?.args ?? "")?.[1];
  if (!fromBuild || !builds.some((s) => s.name === buildName))
    problems.push("the runtime stage does not copy node_modules from a build stage");
  const workdir = final.instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.args ?? "/";
  if (/node_modules/.test(workdir)) problems.push(`the app is under node_modules (${workdir})`);
  for (const c of copies.filter((x) => !x.args.includes("--from="))) {
    const dest = c.args.split(/\s+/).at(-1)!;
    if (/node_modules/.test(dest))
      problems.push(`COPY to ${dest}: Node does not strip types under node_modules`);
  }
  const addon = copies.find((c) => /--from=(\S+)/.test(c.args) && c.args.includes("udp_batch.node"));
  const addonFrom = /--from=(\S+)/.exec(addon?.args ?? "")?.[1];
  if (!addon || !builds.some((s) => s.name === addonFrom))
    problems.push("the runtime stage does not copy the relay's udp_batch.node from a build stage");
  else if (!addon.args.trim().endsWith("./media/udp-batch/native/build/Release/"))
    problems.push("udp_batch.node is not copied to where media/udp-batch/batch-socket.ts loads it");
  const user = final.instructions.filter((i) => i.keyword === "USER").at(-1)?.args;
  const uid = user?.split(":")[0];
  if (!user) problems.push("no USER: the runtime stage runs as root");
  else if (!/^\d+$/.test(uid!))
    problems.push(`USER ${user} is not numeric (runAsNonRoot cannot verify a name)`);
  else if (Number(uid) === 0) problems.push("USER is root");
  const entry = execForm(final.instructions.filter((i) => i.keyword === "ENTRYPOINT").at(-1)?.args ?? "");
  if (entry?.[0] !== "node" || entry[1] !== "bin/voice-edge.js" || entry.length !== 2)
    problems.push(`ENTRYPOINT is ${JSON.stringify(entry)}, expected ["node", "bin/voice-edge.js"]`);
  return problems;
}

/** Context paths the Dockerfile copies (not from other stages). */
function copiedPaths(text: string): string[] {
  const final = parseDockerfile(text).stages.flatMap((s) => s.instructions);
  return final
    .filter((i) => i.keyword === "COPY" && !i.args.includes("--from="))
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((a) => !a.startsWith("--"))
        .slice(0, -1),
    );
}

/** The files git tracks under `path`: what a clean clone sends as build context (not local build output). */
function filesUnder(path: string): string[] {
  return execFileSync("git", ["ls-files", "-z", "--", path], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
}

describe("deploy/Dockerfile", () => {
  it("is multi-stage on Node 24 slim (the pinned version), npm ci --omit=dev, the relay addon built, non-root, node bin/voice-edge.js", () => {
    expect(checkDockerfile(DOCKERFILE)).toEqual([]);
    expect(existsSync(join(ROOT, "bin/voice-edge.js"))).toBe(true);
  });

  it("catches each broken rule", () => {
    const cases: [string, string, RegExp][] = [
      ["USER 1000:1000", "USER root", /not numeric/],
      ["USER 1000:1000", "USER 0", /USER is root/],
      ["USER 1000:1000", "", /no USER/],
      ["-trixie-slim AS runtime", "-trixie AS runtime", /not a Node 24 slim image/],
      ["ARG NODE_VERSION=24.21.0", "ARG NODE_VERSION=22.12.0", /pinned node/],
      ["npm ci --omit=dev", "npm ci", /npm ci --omit=dev/],
      ['ENTRYPOINT ["node", "bin/voice-edge.js"]', "ENTRYPOINT node bin/voice-edge.js", /ENTRYPOINT/],
      ["COPY media ./media", "COPY media ./node_modules/app/media", /strip types/],
      ["COPY --from=deps /app/node_modules", "COPY --from=build /app/node_modules", /build stage/],
      ["COPY --from=native /src", "COPY --from=compile /src", /udp_batch.node from a build stage/],
      [
        "Release/udp_batch.node ./media/udp-batch/native/build/Release/",
        "Release/udp_batch.node ./",
        /where .* loads it/,
      ],
    ];
    for (const [from, to, problem] of cases) {
      expect(DOCKERFILE, from).toContain(from);
      expect(checkDockerfile(DOCKERFILE.replace(from, to)), to).toContainEqual(
        expect.stringMatching(problem),
      );
    }
    const single = DOCKERFILE.slice(DOCKERFILE.indexOf("# --- runtime stage"));
    expect(checkDockerfile(single)).toContainEqual(expect.stringMatching(/expected a build stage/));
  });

  it("runs as the user the pods run as", () => {
    const uid = Number(/^USER (\d+)/m.exec(DOCKERFILE)?.[1]);
    const ms = loadManifests();
    for (const name of ["relay-ingress", "relay-cluster", "transceiver", "backend"])
      expect(appContainer(ms, name).w.pod.securityContext?.runAsUser, name).toBe(uid);
  });
});

describe(".dockerignore", () => {
  it("lets in everything the Dockerfile copies", () => {
    const paths = copiedPaths(DOCKERFILE);
    expect(paths).toEqual(
      expect.arrayContaining(["package.json", "package-lock.json", "bin", "media", "shared"]),
    );
    for (const p of paths)
      for (const f of filesUnder(p)) expect(dockerIgnored(DOCKERIGNORE, f), f).toBe(false);
  });

  it("keeps out dependencies, git, secrets, tests and the Worker", () => {
    for (const f of [
      "node_modules/zod/package.json",
      ".git/HEAD",
      ".dev.vars",
      ".env",
      "test/deploy/dockerfile.test.ts",
      "edge/worker.ts",
      "deploy/k8s/relay-ingress.yaml",
      "bench/relay.ts",
    ])
      expect(dockerIgnored(DOCKERIGNORE, f), f).toBe(true);
  });

  it("the matcher follows Docker's last-match-wins rule", () => {
    expect(dockerIgnored("*\n!bin/\n", "bin/a.js")).toBe(false);
    expect(dockerIgnored("*\n!bin/\nbin/secret\n", "bin/secret")).toBe(true);
    expect(dockerIgnored("**/*.test.ts\n", "media/x/y.test.ts")).toBe(true);
    expect(dockerIgnored("node_modules\n", "node_modules/a/b")).toBe(true);
  });
});

describe("what the image runs", () => {
  const roots = ["bin", "media", "shared"];
  // `voice-edge stack` is for dev machines: it bundles the edge Worker (esbuild) and runs it
  // in Miniflare, both devDependencies, from edge/, which the image does not contain.
  const DEV_ONLY = "media/stack/";
  const inImage = roots
    .flatMap(filesUnder)
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !dockerIgnored(DOCKERIGNORE, f));
  const sources = inImage.filter((f) => !f.startsWith(DEV_ONLY));
  const builtins = new Set(builtinModules);

  it("only the CLI's lazy command table refers to the dev-only stack command", () => {
    const users = sources.filter((f) =>
      /["']\.{1,2}\/(?:\.\.\/)*(?:media\/)?stack\//.test(readFileSync(join(ROOT, f), "utf8")),
    );
    expect(users).toEqual(["media/cli.ts"]);
  });

  it("imports only production dependencies, Node built-ins and files the image contains", () => {
    const problems: string[] = [];
    const importRe =
      /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;
    for (const file of sources) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const m of text.matchAll(importRe)) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (spec.startsWith(".")) {
          const target = relative(ROOT, resolve(dirname(join(ROOT, file)), spec));
          if (!roots.some((r) => target.startsWith(`${r}/`)) || !existsSync(join(ROOT, target)))
            problems.push(`${file}: ${spec} is not in the image`);
        } else if (spec.startsWith("node:") || builtins.has(spec)) {
          // built-in
        } else {
          const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
          if (!pkg.dependencies[name])
            problems.push(
              `${file}: ${name} is not a production dependency (npm ci --omit=dev leaves it out)`,
            );
        }
      }
    }
    expect(sources.length).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });

  it("no production dependency has an install script (the build stage runs none)", () => {
    expect(DOCKERFILE).toMatch(/npm ci [^\n]*--ignore-scripts/);
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; hasInstallScript?: boolean }>;
    };
    // Optional ones may: the code runs without them built (@discordjs/opus: the bridge falls back to opusscript).
    const withScripts = Object.entries(lock.packages)
      .filter(([k, v]) => k && !v.dev && !v.optional && v.hasInstallScript)
      .map(([k]) => k);
    expect(withScripts).toEqual([]);
    // The check can see install scripts: dev-only ones exist.
    expect(Object.values(lock.packages).some((v) => v.dev && v.hasInstallScript)).toBe(true);
  });
});
