/** Real-socket helpers for relay tests: bounded waits on events, never sleeps. */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";

export interface Datagram {
  msg: Buffer;
  rinfo: RemoteInfo;
}

/** The IPv4 loopback address the tests bind and send to. */
export const LO = "127.0.0.1";

/** A UDP socket on loopback whose datagrams queue up to be awaited one by one. */
export class Peer {
  readonly socket: Socket;
  private readonly queue: Datagram[] = [];
  private waiter: ((d: Datagram) => void) | undefined;
  /** Called for each datagram instead of queueing it, when set (e.g. a fake transceiver's auto-reply). */
  onDatagram: ((d: Datagram) => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("message", (msg, rinfo) => {
      const d = { msg, rinfo };
      if (this.onDatagram) this.onDatagram(d);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(d);
      } else this.queue.push(d);
    });
  }

  static async open(address = "127.0.0.1"): Promise<Peer> {
    const s = createSocket(address.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, address, () => resolve());
    });
    return new Peer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(msg: Uint8Array, to: { address: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(msg, to.port, to.address, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** The next datagram, or a rejection after `ms`. */
  next(ms = 2000): Promise<Datagram> {
    const d = this.queue.shift();
    if (d) return Promise.resolve(d);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no datagram on port ${this.port} within ${ms} ms`));
      }, ms);
      this.waiter = (got) => {
        clearTimeout(t);
        resolve(got);
      };
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A peer on the IPv6 loopback (opened by `open`), or the test skipped on a machine without one. */
export async function ipv6Peer(
  ctx: { skip(note?: string): never },
  open: (address: string) => Promise<Peer> = (address) => Peer.open(address),
): Promise<Peer> {
  try {
    return await open("::1");
  } catch {
    ctx.skip("no IPv6 loopback on this machine");
  }
}

/** The peers a file's tests open (`open`), closed together (`closeAll`, after each test say). */
export class Peers {
  private opened: Peer[] = [];

  open = async (address?: string): Promise<Peer> => {
    const p = await Peer.open(address);
    this.opened.push(p);
    return p;
  };

  async closeAll(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((p) => p.close()));
  }
}

/** Resolves when cond() holds, checking after each turn of the event loop; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A fake transceiver: answers every encapsulated datagram with itself (same header, same bytes), and keeps them. */
export async function echoTransceiver(): Promise<Peer & { got: Datagram[] }> {
  const p = (await Peer.open()) as Peer & { got: Datagram[] };
  p.got = [];
  p.onDatagram = (d) => {
    p.got.push(d);
    p.socket.send(d.msg, d.rinfo.port, d.rinfo.address);
  };
  return p;
}

/** A free UDP port on 127.0.0.1 (asked of the kernel, then released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
