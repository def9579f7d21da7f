/** ICE-TCP test material: a raw RFC 4571 client, and a stack whose answers offer only TCP. */
import { connect, type Socket } from "node:net";
import type { RunningStack } from "../../media/stack/main.ts";
import { encodeFrame, FrameDecoder } from "../../media/wire/tcp-frame.ts";
import { loopbackRegion, startLoopbackStack } from "./loopback-region.ts";

/** `voice-edge stack` on loopback, one region (echo), whose answers advertise only its ingress's TCP candidate. */
export async function startTcpOnlyStack(cluster: number): Promise<RunningStack> {
  return startLoopbackStack([await loopbackRegion("aa", cluster, { tcp: true })], {
    backend: "echo",
    tcpOnly: true,
  });
}

export class TcpPeer {
  readonly socket: Socket;
  readonly frames: Buffer[] = [];
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder(65535);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.decoder.push(chunk, Date.now(), (buf, off, len) => {
        this.frames.push(Buffer.from(buf.subarray(off, off + len)));
        return true;
      });
    });
    socket.on("error", () => {});
    this.closed = new Promise((r) => socket.once("close", () => r()));
  }

  static async open(to: { address: string; port: number }): Promise<TcpPeer> {
    const socket = connect({ host: to.address, port: to.port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    return new TcpPeer(socket);
  }

  get port(): number {
    return this.socket.localPort!;
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readyState === "closed";
  }

  /** One RFC 4571 frame of `payload`. */
  send(payload: Uint8Array): void {
    const out = Buffer.alloc(payload.length + 2);
    encodeFrame(out, payload, 0, payload.length);
    this.socket.write(out);
  }

  /** Bytes as they are: garbage, partial frames. */
  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** `p` settles within `ms`: true, else false (never hangs a test). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    t = setTimeout(() => r(false), ms);
  });
  const r = await Promise.race([p.then(() => true), timeout]);
  clearTimeout(t);
  return r;
}
