/**
 * Real processes on loopback for the Global Relay tests and benchmarks:
 * `voice-edge relay` processes (each in its own process group, so SIGKILL
 * takes a supervisor and its workers at once), a UDP load balancer that can
 * switch backends, and werift calls that stream audio and note when the
 * transceiver's echo comes back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { fileURLToPath } from "node:url";
import { RtpHeader, RtpPacket } from "werift";
import { untilLogged } from "./child-log.ts";
import { ENCAP_KEYS_SPEC } from "./relay-fixtures.ts";
import { freePort, txFetch } from "./stack.ts";
import { LO } from "./udp.ts";
import { createTestClient, type TestClient, type TestClientOptions } from "./werift-client.ts";

const BIN = fileURLToPath(new URL("../../bin/voice-edge.js", import.meta.url));

export interface RelayProcess {
  child: ChildProcess;
  args: string[];
  publicPort: number;
  adminPort: number;
  /** When its "relay listening" line came (ms). */
  readyAt: number;
  output(): string;
  metrics(): Promise<string>;
  metric(name: string, labels?: string): Promise<number>;
  /** SIGKILL to the whole process group (supervisor and workers). */
  kill9(): Promise<void>;
  /** A signal to the relay; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Arguments of a cluster relay that takes its clients from Global Relay ingresses at `ingresses`. */
export function clusterRelayArgs(cluster: number, listen: string, ingresses: string): string[] {
  return ["--tier", "cluster", "--cluster", String(cluster), "--listen", listen, "--ingresses", ingresses];
}

/** Arguments of a Global Relay ingress that sends `cluster`'s flows to the relay at `clusterRelay`. */
export function ingressArgs(cluster: number, clusterRelay: string, listen: string): string[] {
  return ["--tier", "ingress", "--clusters", `${cluster}=${clusterRelay}`, "--listen", listen];
}

const running = new Set<RelayProcess>();

/** `voice-edge relay <args> --admin 127.0.0.1:<free>`; resolves once it listens. */
export async function spawnRelay(args: string[], env: Record<string, string> = {}): Promise<RelayProcess> {
  const adminPort = await freePort();
  const all = [...args, "--admin", `${LO}:${adminPort}`];
  const child = spawn(process.execPath, [BIN, "relay", ...all], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, VOICE_EDGE_LOG_LEVEL: "info", VOICE_EDGE_ENCAP_KEYS: ENCAP_KEYS_SPEC, ...env },
  });
  const { output, exited, line } = await untilLogged(child, "relay", "relay listening");
  const metrics = async () => (await fetch(`http://${LO}:${adminPort}/metrics`)).text();
  const p: RelayProcess = {
    child,
    args,
    publicPort: Number(String(JSON.parse(line).public).split(":").at(-1)),
    adminPort,
    readyAt: Date.now(),
    output,
    metrics,
    async metric(name, labels = "") {
      const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ""} (\\d+)`, "m");
      return Number(re.exec(await metrics())?.[1] ?? Number.NaN);
    },
    async kill9() {
      running.delete(p);
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
      await exited;
    },
    async stop(signal = "SIGTERM") {
      running.delete(p);
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
  running.add(p);
  return p;
}

/** Kills every relay process still running (afterAll). */
export async function killRelays(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill9()));
}

/**
 * A UDP load balancer in front of relays (as a Kubernetes Service would be):
 * one upstream socket per sender, datagrams to the current backend, answers
 * from any backend back to the sender from the balancer's own address.
 */
export class UdpBalancer {
  readonly socket: Socket;
  backend: { address: string; port: number };
  private readonly upstream = new Map<string, Socket>();

  private constructor(socket: Socket, backend: { address: string; port: number }) {
    this.socket = socket;
    this.backend = backend;
    socket.on("message", (msg, from) => {
      const key = `${from.address}:${from.port}`;
      let up = this.upstream.get(key);
      if (!up) {
        const s = createSocket("udp4");
        s.bind(0, LO);
        s.on("message", (reply) => this.socket.send(reply, from.port, from.address));
        this.upstream.set(key, s);
        up = s;
      }
      up.send(msg, this.backend.port, this.backend.address);
    });
  }

  static async start(backend: { address: string; port: number }, port = 0): Promise<UdpBalancer> {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(port, LO, () => r()));
    return new UdpBalancer(s, backend);
  }

  get port(): number {
    return this.socket.address().port;
  }

  async close(): Promise<void> {
    for (const s of this.upstream.values()) s.close();
    await new Promise<void>((r) => this.socket.close(() => r()));
  }
}

/** A werift call whose audio the transceiver echoes: arrival times of the echo, packets sent. */
export interface AudioCall {
  client: TestClient;
  id: string;
  ufrag: string;
  /** The SDP answer it was given. */
  answer: string;
  /** Date.now() of every echoed audio packet. */
  arrivals: number[];
  sent: number;
  /** The client's own UDP port (the address the transceiver must see). */
  localPort(): number;
  /** The address:port it talks to (the ingress). */
  remotePort(): number;
}

/**
 * Sets up a call at `transceiverUrl` (optionally naming the ingress to advertise), with the session
 * API token (by default the dev token of a transceiver spawned without --token).
 */
export function openCall(transceiverUrl: string, ingress?: string, token?: string): Promise<AudioCall> {
  return openCallWith(async (sdp) => {
    const res = await txFetch(
      `${transceiverUrl}/v1/sessions`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sdp, ...(ingress ? { ingress } : {}) }),
      },
      token,
    );
    if (res.status !== 201) throw new Error(`session: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; sdp: string; ufrag: string };
  });
}

/** Sets up a call through the edge's Realtime-API endpoint (`POST /v1/realtime/calls`, SDP in and out). */
export function openEdgeCall(
  edgeUrl: string,
  options: TestClientOptions = {},
  apiKey = "sk-voice-edge-dev-key",
  prepare?: (client: TestClient) => void,
): Promise<AudioCall> {
  return openCallWith(
    async (sdp) => {
      const res = await fetch(`${edgeUrl}/v1/realtime/calls`, {
        method: "POST",
        headers: { "content-type": "application/sdp", authorization: `Bearer ${apiKey}` },
        body: sdp,
      });
      if (res.status !== 201) throw new Error(`call: ${res.status} ${await res.text()}`);
      const answer = await res.text();
      const ufrag = /a=ice-ufrag:(\S+)/.exec(answer)?.[1] ?? "";
      return { id: (res.headers.get("location") ?? "").split("/").pop() ?? "", sdp: answer, ufrag };
    },
    options,
    prepare,
  );
}

/** A call whose answer comes from `create` (the transceiver's API, or the edge's), by a client with `options`. */
export async function openCallWith(
  create: (offerSdp: string) => Promise<{ id: string; sdp: string; ufrag: string }>,
  options: TestClientOptions = {},
  /** Called with the client once it has offered, before it connects (e.g. to tap what it sends). */
  prepare?: (client: TestClient) => void,
): Promise<AudioCall> {
  const client = createTestClient(options);
  const offer = await client.offer();
  prepare?.(client);
  const body = await create(offer);
  const arrivals: number[] = [];
  const received = client.received;
  const push = received.push.bind(received);
  received.push = (...items) => {
    const now = Date.now();
    for (let i = 0; i < items.length; i++) arrivals.push(now);
    return push(...items);
  };
  await client.answer(body.sdp);
  await client.connected();
  await client.channelOpen();
  const pair = () => client.pc.iceTransports[0]!.connection.nominated;
  return {
    client,
    id: body.id,
    ufrag: body.ufrag,
    answer: body.sdp,
    arrivals,
    sent: 0,
    localPort: () => pair()!.localCandidate.port,
    remotePort: () => pair()!.remoteCandidate.port,
  };
}

/**
 * One timer for all calls: a 60-byte Opus-like packet from each every 20 ms, every byte its
 * sequence number mod 256 (audioHoles reads it back). Returns the stop function.
 */
export function streamAudio(calls: AudioCall[]): () => void {
  let seq = 0;
  const t = setInterval(() => {
    seq++;
    for (const c of calls) {
      const header = new RtpHeader({
        payloadType: 111,
        sequenceNumber: seq & 0xffff,
        timestamp: (seq * 960) >>> 0,
      });
      c.client.audioOut.writeRtp(new RtpPacket(header, Buffer.alloc(60, seq & 0xff)));
      c.sent++;
    }
  }, 20);
  return () => clearInterval(t);
}

/** Resolves once cond() holds (checked every 10 ms); rejects after `ms`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Per call: the first echo after `at`, minus `at` (ms). */
export function resumeAfter(calls: AudioCall[], at: number): number[] {
  return calls.map((c) => {
    const after = c.arrivals.find((t) => t > at);
    return after === undefined ? Number.POSITIVE_INFINITY : after - at;
  });
}

/** The longest silence each call had between `from` and `to`, ms. */
export function longestSilence(calls: AudioCall[], from: number, to: number): number[] {
  return calls.map((c) => {
    const xs = [from, ...c.arrivals.filter((t) => t > from && t < to), to];
    let worst = 0;
    for (let i = 1; i < xs.length; i++) worst = Math.max(worst, xs[i]! - xs[i - 1]!);
    return worst;
  });
}

/**
 * Per call, the longest run of echoed packets missing that begins between `from` and `to` (after
 * a packet echoed then), as ms of audio (20 ms a packet): what the relays lost, unlike
 * longestSilence, which also counts the harness's own stalls (packets late, not lost). A packet
 * behind the newest one (reordered, duplicated) fills nothing; runs longer than the sequence byte
 * wraps (128 packets) are told apart by the arrival times.
 */
export function audioHoles(calls: AudioCall[], from: number, to: number): number[] {
  return calls.map((c) => {
    let worst = 0;
    let newest: { at: number; seq: number } | undefined;
    for (let i = 0; i < c.arrivals.length; i++) {
      const at = c.arrivals[i]!;
      if (at <= from) continue;
      const seq = c.client.received[i]!.payload[0]!;
      if (newest) {
        const step = ((seq - newest.seq + 128) & 0xff) - 128;
        const ahead = step + 256 * Math.max(0, Math.round(((at - newest.at) / 20 - step) / 256));
        if (ahead <= 0) continue;
        worst = Math.max(worst, ahead - 1);
      }
      if (at >= to) break;
      newest = { at, seq };
    }
    return worst * 20;
  });
}

export function percentileOf(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export async function closeCalls(calls: AudioCall[]): Promise<void> {
  await Promise.allSettled(calls.map((c) => c.client.close()));
}

/**
 * The calls a whole-stack test opens and the one audio stream it keeps going
 * on them, ended together (between its cases, and in its afterAll).
 */
export class StreamedCalls {
  readonly calls: AudioCall[] = [];
  private stopAudio = () => {};

  /** Streams audio on `on` (by default every call so far), ending the stream before. */
  stream(on: AudioCall[] = this.calls): void {
    this.stopAudio();
    this.stopAudio = streamAudio(on);
  }

  /** Ends the stream; the calls stay up. */
  stopStream(): void {
    this.stopAudio();
    this.stopAudio = () => {};
  }

  /** Ends the stream and closes every call (the list is emptied). */
  async close(): Promise<void> {
    this.stopStream();
    await closeCalls(this.calls.splice(0));
  }
}
