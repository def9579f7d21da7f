/**
 * The deployment's rules, as functions from the parsed manifests to a list of
 * problems (empty = fine), so that tests can also show that each rule catches
 * the mistake it is about.
 */
import type { IContainer, IEnvVar, IPodSpec, IService } from "kubernetes-models/v1";
import { type OptionSpecs, parseOptions } from "../../../media/runtime/options.ts";
import type { Manifest } from "./manifests.ts";

/** Values for downward-API fields, to run a container's settings through the CLI's parser. */
const SAMPLE_FIELDS: Record<string, string> = { "status.podIP": "10.1.2.3", "metadata.name": "pod-0" };

export const APP_IMAGE = "voice-edge";

export interface Workload {
  m: Manifest;
  pod: IPodSpec;
  labels: Record<string, string>;
}

export function workloads(ms: Manifest[]): Workload[] {
  return ms
    .filter((m) => ["Deployment", "StatefulSet", "DaemonSet"].includes(m.kind))
    .map((m) => ({ m, pod: m.obj.spec.template.spec, labels: m.obj.spec.template.metadata?.labels ?? {} }));
}

export function find(ms: Manifest[], kind: string, name: string): Manifest | undefined {
  return ms.find((m) => m.kind === kind && m.name === name);
}

function allContainers(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

const where = (w: Workload, c?: IContainer) => `${w.m.kind}/${w.m.name}${c ? ` container ${c.name}` : ""}`;

/** Does a label selector (matchLabels only) select these labels? */
function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The app container's command (`voice-edge <command>`), or undefined for other images. */
export function commandOf(c: IContainer): string | undefined {
  const image = c.image ?? "";
  const repo = image.replace(/@.*$/, "").replace(/:[^/]*$/, "");
  if (repo !== APP_IMAGE && !repo.endsWith(`/${APP_IMAGE}`)) return undefined;
  return c.args?.[0];
}

/**
 * The ingress's LoadBalancer exposes exactly its UDP port and its ICE-TCP port, externalTrafficPolicy
 * Local; no other LoadBalancer.
 */
export function checkRelayService(
  ms: Manifest[],
  name = "relay-ingress",
  expect: { udp: number; tcp: number } = { udp: 3478, tcp: 443 },
): string[] {
  const problems: string[] = [];
  const lbs = ms.filter((m) => m.kind === "Service" && m.obj.spec?.type === "LoadBalancer");
  const relay = lbs.find((m) => m.name === name);
  if (!relay) return [`no Service/${name} of type LoadBalancer`];
  for (const other of lbs.filter((m) => m !== relay))
    problems.push(`Service/${other.name} is a LoadBalancer: only the ingress's ports are public`);
  const spec = (relay.obj as IService).spec!;
  if (spec.externalTrafficPolicy !== "Local")
    problems.push(`Service/${name}: externalTrafficPolicy is ${spec.externalTrafficPolicy}, expected Local`);
  const ports = spec.ports ?? [];
  if (ports.length !== 2)
    problems.push(`Service/${name} exposes ${ports.length} ports, expected exactly 2 (UDP, ICE-TCP)`);
  const udp = ports.filter((p) => p.protocol === "UDP");
  const tcp = ports.filter((p) => (p.protocol ?? "TCP") === "TCP");
  if (udp.length !== 1 || udp[0]!.port !== expect.udp)
    problems.push(
      `Service/${name}: UDP ports ${udp.map((p) => p.port).join(",") || "none"}, expected ${expect.udp}`,
    );
  if (tcp.length !== 1 || tcp[0]!.port !== expect.tcp)
    problems.push(
      `Service/${name}: TCP ports ${tcp.map((p) => p.port).join(",") || "none"}, expected ${expect.tcp}`,
    );
  const targets = workloads(ms).filter((w) => selects(spec.selector, w.labels));
  if (targets.length !== 1 || targets[0]!.m.name !== name)
    problems.push(`Service/${name} selects ${targets.map((t) => t.m.name).join(", ") || "nothing"}`);
  return problems;
}

/**
 * A Deployment that is not public: no LoadBalancer or NodePort Service and no external IP
 * reaches its pods, and no NetworkPolicy admits UDP to them from anywhere.
 */
export function checkNotPublic(ms: Manifest[], deployment: string): string[] {
  const problems: string[] = [];
  const w = workloads(ms).find((x) => x.m.kind === "Deployment" && x.m.name === deployment);
  if (!w) return [`no Deployment/${deployment}`];
  for (const svc of ms.filter((m) => m.kind === "Service" && selects(m.obj.spec?.selector, w.labels))) {
    const spec = (svc.obj as IService).spec!;
    if (spec.type === "LoadBalancer" || spec.type === "NodePort")
      problems.push(`Service/${svc.name} exposes ${deployment} outside the cluster (${spec.type})`);
    if (spec.externalIPs?.length) problems.push(`Service/${svc.name} has externalIPs`);
  }
  for (const np of ms.filter(
    (m) => m.kind === "NetworkPolicy" && selects(m.obj.spec?.podSelector?.matchLabels, w.labels),
  ))
    for (const p of allowedPorts(ms, np.name, "anywhere"))
      if (p.protocol === "UDP") problems.push(`NetworkPolicy/${np.name} admits UDP ${p.port} from anywhere`);
  return problems;
}

/**
 * A relay's UDP ports: the container declares its public port and one internal port per
 * worker (port .. port+workers-1, each on its own), and the NetworkPolicy admits from the
 * next hop (whose replies come back there) exactly those internal ports, beyond what it
 * admits from anywhere.
 */
export function checkRelayWorkerPorts(
  ms: Manifest[],
  deployment: string,
  o: { listen: string; internal: string; workers?: number },
  nextHop: Record<string, string>,
): string[] {
  const problems: string[] = [];
  const { c } = appContainer(ms, deployment);
  const portOf = (endpoint: string) => Number(endpoint.split(":").at(-1));
  const internal = portOf(o.internal);
  if (o.workers === undefined) problems.push(`Deployment/${deployment}: the worker count is not set`);
  if (internal === 0) problems.push(`Deployment/${deployment}: the internal port is ephemeral`);
  const workers = o.workers ?? 0;
  const internalPorts = Array.from({ length: workers }, (_, i) => internal + i);
  const declared = (c.ports ?? [])
    .filter((p) => p.protocol === "UDP")
    .map((p) => p.containerPort)
    .sort((a, b) => a - b);
  const expected = [portOf(o.listen), ...internalPorts].sort((a, b) => a - b);
  if (JSON.stringify(declared) !== JSON.stringify(expected))
    problems.push(
      `Deployment/${deployment} declares UDP ports ${declared.join(",")}, its workers bind ${expected.join(",")}`,
    );
  const policy = deployment;
  const anywhere = new Set(allowedPorts(ms, policy, "anywhere").map((p) => `${p.protocol}/${p.port}`));
  const fromNextHop = allowedPorts(ms, policy, nextHop)
    .filter((p) => p.protocol === "UDP" && !anywhere.has(`UDP/${p.port}`))
    .map((p) => Number(p.port))
    .sort((a, b) => a - b);
  if (JSON.stringify(fromNextHop) !== JSON.stringify(internalPorts))
    problems.push(
      `NetworkPolicy/${policy} admits UDP ${fromNextHop.join(",") || "nothing"} from the next hop, the workers' internal ports are ${internalPorts.join(",")}`,
    );
  return problems;
}

/**
 * Termination: the grace period covers the preStop sleep (while traffic moves away) and
 * the relay's drain, with a margin of 5 s to 60 s.
 */
export function checkRelayDrain(ms: Manifest[], deployment: string, drainTimeout: number): string[] {
  const { w, c } = appContainer(ms, deployment);
  const grace = w.pod.terminationGracePeriodSeconds ?? 30;
  const sleep = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
  const needed = sleep + drainTimeout;
  if (grace < needed + 5 || grace > needed + 60)
    return [
      `Deployment/${deployment}: terminationGracePeriodSeconds ${grace} is not preStop ${sleep} s + drain ${drainTimeout} s + 5..60 s`,
    ];
  return [];
}

/**
 * Two relay processes at least, twice over: two worker processes per pod, so a killed process's
 * clients move to the other on the same port (SO_REUSEPORT) while it is restarted, and two pods,
 * so a lost pod leaves the tier up (issue 16 item 9).
 */
export function checkRelayProcesses(
  ms: Manifest[],
  deployment: string,
  workers: number | undefined,
): string[] {
  const problems: string[] = [];
  const replicas = appContainer(ms, deployment).w.m.obj.spec.replicas ?? 1;
  if (replicas < 2) problems.push(`Deployment/${deployment}: ${replicas} replica(s), not 2 or more`);
  if (workers === undefined || workers < 2)
    problems.push(
      `Deployment/${deployment}: ${workers ?? "unset"} worker process(es) per pod, not 2 or more`,
    );
  return problems;
}

/** No hostNetwork/hostPID/hostIPC, no hostPort, no port ranges, nowhere. */
export function checkNoHostAccessOrRanges(ms: Manifest[]): string[] {
  const problems: string[] = [];
  const visit = (v: unknown, path: string, m: Manifest) => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) visit(x, `${path}[${i}]`, m);
    } else if (v && typeof v === "object")
      for (const [k, x] of Object.entries(v)) {
        if (["hostNetwork", "hostPID", "hostIPC"].includes(k) && x === true)
          problems.push(`${m.kind}/${m.name} ${path}.${k}`);
        if (k === "hostPort" || k === "endPort") problems.push(`${m.kind}/${m.name} ${path}.${k}`);
        visit(x, `${path}.${k}`, m);
      }
  };
  for (const m of ms) visit(m.obj, "", m);
  return problems;
}

/** Probes, requests, memory limits, non-root, no privilege escalation, in every container. */
export function checkContainers(ms: Manifest[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(ms)) {
    const podSec = w.pod.securityContext ?? {};
    for (const c of allContainers(w.pod)) {
      const at = where(w, c);
      const isInit = (w.pod.initContainers ?? []).includes(c);
      if (!isInit && !c.readinessProbe) problems.push(`${at}: no readinessProbe`);
      if (!isInit && !c.livenessProbe) problems.push(`${at}: no livenessProbe`);
      const names = new Set((c.ports ?? []).map((p) => p.name));
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (typeof port === "string" && !names.has(port))
          problems.push(`${at}: probe port ${port} is not declared`);
      }
      const req = c.resources?.requests ?? {};
      if (req.cpu === undefined) problems.push(`${at}: no cpu request`);
      if (req.memory === undefined) problems.push(`${at}: no memory request`);
      if (c.resources?.limits?.memory === undefined) problems.push(`${at}: no memory limit`);
      const sec = c.securityContext ?? {};
      const nonRoot = sec.runAsNonRoot ?? podSec.runAsNonRoot;
      const user = sec.runAsUser ?? podSec.runAsUser;
      if (nonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
      if (user === 0) problems.push(`${at}: runAsUser is 0`);
      if (sec.allowPrivilegeEscalation !== false)
        problems.push(`${at}: allowPrivilegeEscalation is not false`);
      if (sec.privileged) problems.push(`${at}: privileged`);
    }
  }
  return problems;
}

/** A PDB and an HPA for each named Deployment, aimed at it and at nothing else. */
export function checkPdbAndHpa(ms: Manifest[], deployments: string[]): string[] {
  const problems: string[] = [];
  const ws = workloads(ms);
  for (const name of deployments) {
    const w = ws.find((x) => x.m.kind === "Deployment" && x.m.name === name);
    if (!w) {
      problems.push(`no Deployment/${name}`);
      continue;
    }
    const pdbs = ms.filter(
      (m) => m.kind === "PodDisruptionBudget" && selects(m.obj.spec?.selector?.matchLabels, w.labels),
    );
    if (pdbs.length !== 1) problems.push(`Deployment/${name}: ${pdbs.length} PodDisruptionBudgets select it`);
    for (const pdb of pdbs) {
      const others = ws.filter((o) => o !== w && selects(pdb.obj.spec.selector.matchLabels, o.labels));
      if (others.length) problems.push(`PodDisruptionBudget/${pdb.name} also selects ${others[0]!.m.name}`);
    }
    const hpas = ms.filter(
      (m) =>
        m.kind === "HorizontalPodAutoscaler" &&
        m.obj.spec?.scaleTargetRef?.kind === "Deployment" &&
        m.obj.spec?.scaleTargetRef?.name === name &&
        m.obj.spec?.scaleTargetRef?.apiVersion === "apps/v1",
    );
    if (hpas.length !== 1)
      problems.push(`Deployment/${name}: ${hpas.length} HorizontalPodAutoscalers target it`);
    for (const hpa of hpas) {
      const { minReplicas = 1, maxReplicas } = hpa.obj.spec;
      if (minReplicas < 2) problems.push(`HorizontalPodAutoscaler/${hpa.name}: minReplicas < 2`);
      if (maxReplicas < minReplicas) problems.push(`HorizontalPodAutoscaler/${hpa.name}: max < min`);
      for (const metric of hpa.obj.spec.metrics ?? []) {
        const r = metric.resource?.name;
        if (r && !allContainers(w.pod).every((c) => c.resources?.requests?.[r] !== undefined))
          problems.push(
            `HorizontalPodAutoscaler/${hpa.name} scales on ${r}, which a container does not request`,
          );
      }
    }
  }
  return problems;
}

/** Services, NetworkPolicies and PDBs select some pods; ConfigMap and Secret references exist. */
export function checkReferences(ms: Manifest[]): string[] {
  const problems: string[] = [];
  const ws = workloads(ms);
  for (const m of ms) {
    const selector =
      m.kind === "Service"
        ? m.obj.spec?.selector
        : m.kind === "NetworkPolicy" || m.kind === "PodDisruptionBudget"
          ? (m.obj.spec?.podSelector?.matchLabels ?? m.obj.spec?.selector?.matchLabels)
          : undefined;
    if (selector === undefined) continue;
    if (!ws.some((w) => selects(selector, w.labels))) problems.push(`${m.kind}/${m.name} selects no pods`);
  }
  for (const w of ws) {
    for (const c of allContainers(w.pod)) {
      for (const e of c.env ?? []) {
        const cm = e.valueFrom?.configMapKeyRef;
        if (cm && find(ms, "ConfigMap", cm.name!)?.obj.data?.[cm.key] === undefined)
          problems.push(`${where(w, c)}: ${e.name} refers to missing ConfigMap key ${cm.name}/${cm.key}`);
        const s = e.valueFrom?.secretKeyRef;
        if (s) {
          const secret = find(ms, "Secret", s.name!)?.obj;
          if ({ ...secret?.data, ...secret?.stringData }[s.key] === undefined)
            problems.push(`${where(w, c)}: ${e.name} refers to missing Secret key ${s.name}/${s.key}`);
        }
      }
    }
  }
  return problems;
}

/**
 * A container's environment as the process will see it (ConfigMap and Secret values
 * looked up in the bundle, downward-API fields from samples).
 */
export function envOf(ms: Manifest[], c: IContainer): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  const secretData = (name: string) => {
    const s = find(ms, "Secret", name)?.obj;
    return s ? { ...s.data, ...s.stringData } : undefined;
  };
  for (const from of c.envFrom ?? []) {
    const data = from.configMapRef
      ? find(ms, "ConfigMap", from.configMapRef.name!)?.obj.data
      : from.secretRef
        ? secretData(from.secretRef.name!)
        : undefined;
    if (!data) problems.push(`${c.name}: envFrom source not found`);
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ""}${k}`] = String(v);
  }
  for (const e of c.env ?? ([] as IEnvVar[])) {
    const v = e.valueFrom;
    let value: unknown = e.value;
    if (v?.configMapKeyRef)
      value = find(ms, "ConfigMap", v.configMapKeyRef.name!)?.obj.data?.[v.configMapKeyRef.key];
    else if (v?.secretKeyRef) value = secretData(v.secretKeyRef.name!)?.[v.secretKeyRef.key];
    else if (v?.fieldRef) value = SAMPLE_FIELDS[v.fieldRef.fieldPath];
    else if (v) value = "1";
    if (value === undefined) problems.push(`${c.name}: no value for ${e.name}`);
    else env[e.name] = String(value);
  }
  return { env, problems };
}

/** Options specs, or how the command picks them from its arguments and environment (the relay's tiers). */
export type SpecsFor = OptionSpecs | ((argv: string[], env: Record<string, string>) => OptionSpecs);

const specsOf = (s: SpecsFor, argv: string[], env: Record<string, string>) =>
  typeof s === "function" ? s(argv, env) : s;

export interface CommandSpecs {
  /** The specs for --help and the docs (for the relay: the default tier's). */
  specs: OptionSpecs;
  /** The specs the command parses these arguments and environment with, if they depend on them. */
  specsFor?: (argv: string[], env: Record<string, string>) => OptionSpecs;
  /** Variables read outside the option specs (see READ_ELSEWHERE in commands.ts). */
  extra?: string[];
}

/**
 * Every variable an app container sets is one its command reads, and its settings
 * (variables and flags) pass the CLI's own option parser.
 */
export function checkAppConfig(
  ms: Manifest[],
  commands: Record<string, CommandSpecs>,
  pendingCommands: string[] = [],
): string[] {
  const problems: string[] = [];
  for (const w of workloads(ms)) {
    for (const c of allContainers(w.pod)) {
      const command = commandOf(c);
      if (command === undefined) continue;
      const at = where(w, c);
      if (pendingCommands.includes(command) && !commands[command]) continue; // not written yet
      const known = commands[command];
      if (!known) {
        problems.push(`${at}: unknown command "${command}"`);
        continue;
      }
      const { env, problems: envProblems } = envOf(ms, c);
      const argv = c.args!.slice(1);
      const specs = known.specsFor?.(argv, env) ?? known.specs;
      const names = new Set([
        ...Object.values(specs).flatMap((s) => (s.env ? [s.env] : [])),
        ...(known.extra ?? []),
      ]);
      problems.push(...envProblems.map((p) => `${at}: ${p}`));
      for (const name of Object.keys(env))
        if (!names.has(name)) problems.push(`${at}: ${name} is not read by voice-edge ${command}`);
      try {
        parseOptions(command, "", specs, argv, env);
      } catch (err) {
        problems.push(`${at}: ${(err as Error).message}`);
      }
    }
  }
  return problems;
}

/** The parsed options of a Deployment's app container (throws if they do not parse). */
export function optionsOf(ms: Manifest[], deployment: string, specs: SpecsFor): Record<string, unknown> {
  const w = workloads(ms).find((x) => x.m.kind === "Deployment" && x.m.name === deployment);
  const c = w?.pod.containers.find((x) => commandOf(x) !== undefined);
  if (!w || !c) throw new Error(`no app container in Deployment/${deployment}`);
  const argv = c.args!.slice(1);
  const { env } = envOf(ms, c);
  return parseOptions(c.args![0]!, "", specsOf(specs, argv, env), argv, env)!;
}

export function appContainer(ms: Manifest[], deployment: string): { w: Workload; c: IContainer } {
  const w = workloads(ms).find((x) => x.m.kind === "Deployment" && x.m.name === deployment);
  const c = w?.pod.containers.find((x) => commandOf(x) !== undefined);
  if (!w || !c) throw new Error(`no app container in Deployment/${deployment}`);
  return { w, c };
}

/** The numeric container port a Service/probe port (number or name) points at. */
export function containerPort(
  c: IContainer,
  port: number | string | undefined,
  protocol = "TCP",
): number | undefined {
  if (typeof port === "number") return port;
  return c.ports?.find((p) => p.name === port && (p.protocol ?? "TCP") === protocol)?.containerPort;
}

/** The ports one NetworkPolicy lets in from pods with these labels (or from anywhere, for rules without `from`). */
export function allowedPorts(
  ms: Manifest[],
  policy: string,
  fromLabels: Record<string, string> | "anywhere",
): { protocol: string; port: number | string }[] {
  const np = find(ms, "NetworkPolicy", policy);
  if (!np) return [];
  const out: { protocol: string; port: number | string }[] = [];
  for (const rule of np.obj.spec.ingress ?? []) {
    const from: { podSelector?: { matchLabels?: Record<string, string> } }[] | undefined = rule.from;
    const ok =
      fromLabels === "anywhere"
        ? !from || from.length === 0
        : !from ||
          from.length === 0 ||
          from.some((f) => f.podSelector && selects(f.podSelector.matchLabels, fromLabels));
    if (!ok) continue;
    for (const p of rule.ports ?? []) out.push({ protocol: p.protocol ?? "TCP", port: p.port });
  }
  return out;
}
