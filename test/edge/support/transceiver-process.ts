/**
 * Real transceivers (`voice-edge transceiver`) as child processes on
 * loopback, and a real WebRTC offer from werift, for end-to-end edge tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RTCPeerConnection } from "werift";
import { closedPort } from "./fake-transceiver.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
export const HINT_KEYS = `4:${"a7".repeat(24)}`;
/** Encapsulation keys of the transceivers spawned here (no relay reaches them in these tests). */
const ENCAP_KEYS_SPEC = `4:${"b8".repeat(24)}`;

export interface TransceiverProcess {
  cluster: number;
  endpoint: string;
  child: ChildProcess;
  output(): string;
  kill(): Promise<void>;
}

export async function spawnTransceiver(
  cluster: number,
  ingress: string,
  token: string,
): Promise<TransceiverProcess> {
  const port = await closedPort();
  const child = spawn(
    process.execPath,
    [
      "bin/voice-edge.js",
      "transceiver",
      ...[
        "--cluster",
        String(cluster),
        "--keys",
        HINT_KEYS,
        "--encap-keys",
        ENCAP_KEYS_SPEC,
        "--listen",
        `127.0.0.1:${port}`,
      ],
      ...["--workers", "0", "--udp-host", "127.0.0.1", "--ingress", ingress, "--token", token],
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  // Ready when its health endpoint answers; bounded, and fails early if the process dies.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`transceiver ${cluster} exited (${child.exitCode}):\n${output}`);
    const ok = await fetch(`${endpoint}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`transceiver ${cluster} not ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    cluster,
    endpoint,
    child,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A real browser-like offer (audio + the "oai-events" data channel), gathered on loopback only. */
export async function createOfferer(): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: "127.0.0.1" },
    bundlePolicy: "max-bundle",
  });
  clearStun(pc);
  pc.addTransceiver("audio", { direction: "sendrecv" });
  pc.createDataChannel("oai-events");
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  clearStun(pc);
  return { pc, sdp: pc.localDescription!.sdp };
}

// werift fills in a public STUN server by default; nothing here may look up a public host.
function clearStun(pc: RTCPeerConnection): void {
  for (const t of pc.iceTransports)
    (t.connection as unknown as { stunServer: unknown }).stunServer = undefined;
}
