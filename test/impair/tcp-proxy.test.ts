/** The impairer's TCP mode on loopback, in front of an RFC 4571 echo target: frames, loss, delay, blackout, reset. */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { impairApp } from "../../media/impair/admin.ts";
import { type Impairer, startImpairer } from "../../media/impair/impairer.ts";
import { CLEAN, parseProfile } from "../../media/impair/profile.ts";
import { encodeFrame, FrameDecoder } from "../../media/wire/tcp-frame.ts";

let impairer: Impairer | undefined;
let echo: Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await impairer?.close();
  impairer = undefined;
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
  echo = undefined;
});

/** An echo target that returns bytes as they come: framing errors would surface at the client's decoder. */
async function setup(profile = CLEAN, tcpMaxBufferedBytes?: number) {
  echo = createServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo!.listen(0, "127.0.0.1", () => r()));
  const port = (echo.address() as { port: number }).port;
  impairer = await startImpairer({
    listen: { address: "127.0.0.1", port: 0 },
    target: { address: "127.0.0.1", port: 1 },
    tcpListen: { address: "127.0.0.1", port: 0 },
    tcpTarget: { address: "127.0.0.1", port },
    up: profile,
    down: profile,
    seed: 9,
    tcpMaxBufferedBytes,
  });
  return impairer.tcp!.address;
}

const frame = (i: number, size = 40): Buffer => {
  const out = Buffer.alloc(2 + size);
  const payload = Buffer.alloc(size, i & 0xff);
  payload.writeUInt32BE(i, 0);
  encodeFrame(out, payload, 0, size);
  return out;
};

interface Client {
  socket: Socket;
  got: number[];
  error: string | undefined;
  closed: boolean;
}

async function client(at: { address: string; port: number }, size = 40): Promise<Client> {
  const socket = connect(at.port, at.address);
  sockets.push(socket);
  const c: Client = { socket, got: [], error: undefined, closed: false };
  const d = new FrameDecoder(65535);
  socket.on("data", (chunk) => {
    c.error ??= d.push(chunk, 0, (b, off, len) => {
      expect(len).toBe(size);
      c.got.push(b.readUInt32BE(off));
      return true;
    });
  });
  socket.on("error", (e) => {
    c.error ??= (e as NodeJS.ErrnoException).code;
  });
  socket.on("close", () => {
    c.closed = true;
  });
  await new Promise<void>((r) => socket.once("connect", () => r()));
  return c;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("impairer TCP mode", () => {
  it("carries frames both ways, in order, framing intact", async () => {
    const c = await client(await setup());
    for (let i = 0; i < 100; i++) c.socket.write(frame(i));
    await until(() => c.got.length === 100, "100 echoes");
    expect(c.got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(c.error).toBeUndefined();
    expect(impairer!.stats.tcp!.accepted).toBe(1);
  });

  it("drops whole frames under loss and never corrupts the framing", async () => {
    const c = await client(await setup(parseProfile("loss=20%")));
    // One write of many frames: the proxy sees them merged and split at arbitrary points.
    c.socket.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => frame(i))));
    const s = impairer!.stats.tcp!;
    await until(
      () => s.up.packets === 300 && s.down.packets === s.up.delivered,
      "both directions to see their frames",
    );
    await until(() => c.got.length === s.down.delivered, "the survivors");
    expect(c.error).toBeUndefined();
    expect(s.up.drops.loss + s.down.drops.loss).toBeGreaterThan(0);
    expect(c.got.length).toBe(300 - s.up.drops.loss - s.down.drops.loss);
    expect(c.got).toEqual([...c.got].sort((a, b) => a - b));
  });

  it("delays frames by the profile's delay, each way", async () => {
    const c = await client(await setup(parseProfile("delay=150")));
    const t0 = performance.now();
    c.socket.write(frame(1));
    await until(() => c.got.length === 1, "the echo");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(299);
  });

  it("drops frames during a blackout and carries them after it, on the same connection", async () => {
    const c = await client(await setup());
    const end = performance.now() + 300;
    impairer!.blackout(300);
    c.socket.write(frame(1));
    await until(() => impairer!.stats.tcp!.up.drops.blackout === 1, "the dropped frame");
    await until(() => performance.now() > end, "the blackout's end");
    c.socket.write(frame(2));
    await until(() => c.got.length > 0, "the echo after the blackout");
    expect(c.got).toEqual([2]);
    expect(c.closed).toBe(false);
    expect(c.error).toBeUndefined();
  });

  it("resets a connection on command (client sees ECONNRESET) and through the control API", async () => {
    const at = await setup();
    const c = await client(at);
    c.socket.write(frame(1));
    await until(() => c.got.length === 1, "the echo");
    expect(impairer!.tcp!.connections().length).toBe(1);
    const res = await impairApp(impairer!).request("/reset", { method: "POST" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { reset: string[] }).reset.length).toBe(1);
    await until(() => c.closed, "the client's close");
    expect(c.error).toBe("ECONNRESET");
    expect(impairer!.stats.tcp!.resets).toBe(1);
    const missing = await impairApp(impairer!).request("/reset?client=1.2.3.4:5", { method: "POST" });
    expect(missing.status).toBe(404);
    // The proxy still accepts new connections.
    const d = await client(at);
    d.socket.write(frame(2));
    await until(() => d.got.length === 1, "the second connection's echo");
  });

  it("drops whole frames toward a reader that stops reading, within the bound, and counts them", async () => {
    const bound = 16 * 1024;
    const c = await client(await setup(CLEAN, bound), 1400);
    c.socket.pause();
    // 8.4 MB: more than the kernel's send and receive buffers of the proxy-to-client leg hold.
    const n = 6000;
    c.socket.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(i, 1400))));
    const s = impairer!.stats.tcp!;
    const drops = s.backpressureDrops;
    // The proxy-to-echo leg may drop too (the client writes faster than the echo reads): what comes back is the rest.
    await until(
      () => s.up.delivered === n && s.down.delivered === n - drops.up,
      "every echo back at the proxy",
    );
    expect(drops.down).toBeGreaterThan(0);
    expect(s.peakBufferedBytes).toBeLessThanOrEqual(bound);
    c.socket.resume();
    await until(() => c.got.length === n - drops.up - drops.down, "the frames not dropped");
    expect(c.error).toBeUndefined();
    expect(c.got).toEqual([...c.got].sort((a, b) => a - b));
    expect(c.closed).toBe(false);
  });
});
