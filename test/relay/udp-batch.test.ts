/**
 * The batched I/O addon (media/udp-batch) on 127.0.0.1 and
 * ::1: receive metadata, sends from shared buffers, refused sends counted.
 * In CI (CI=true) the addon must be built: a missing build fails here. Elsewhere
 * these tests are skipped, loudly, and the relay falls back to node:dgram.
 */
import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { Flow } from "../../media/relay/flow.ts";
import { startRelay } from "../../media/relay/server.ts";
import {
  BATCH,
  BatchSocket,
  formatMetaV6,
  HEADROOM,
  loadUdpBatch,
  META_STRIDE,
  SLOT,
} from "../../media/udp-batch/batch-socket.ts";
import { IO_BACKENDS, parseIoChoice, resolveIo } from "../../media/udp-batch/io-choice.ts";
import { CLUSTER, encapKeys, keys } from "../support/relay-fixtures.ts";
import { ipv6Peer, Peer, until } from "../support/udp.ts";

const native = loadUdpBatch();
const missing = native instanceof Error ? native.message : undefined;
const inCi = process.env.CI === "true";

if (missing && !inCi)
  console.warn(
    `\n*** SKIPPING the batched I/O tests: ${missing}.\n*** Build it with \`npm run build:native\` (needs a C compiler and python3); ` +
      "the relay runs on node:dgram meanwhile.\n",
  );

describe("udp-batch addon availability", () => {
  it.runIf(inCi)("is built in CI (npm install runs node-gyp; a missing build is a failure here)", () => {
    expect(missing).toBeUndefined();
    expect(resolveIo("auto").backend).toBe("batch");
  });

  it("--io / VOICE_EDGE_RELAY_IO: dgram, batch or auto (default)", () => {
    expect(IO_BACKENDS).toEqual(["dgram", "batch", "auto"]);
    expect(parseIoChoice(undefined)).toBe("auto");
    expect(parseIoChoice("")).toBe("auto");
    expect(parseIoChoice("batch")).toBe("batch");
    expect(() => parseIoChoice("epoll")).toThrow(/dgram, batch or auto/);
    expect(resolveIo("dgram").backend).toBe("dgram");
    if (missing) {
      expect(resolveIo("auto")).toEqual({ backend: "dgram", note: missing });
      expect(() => resolveIo("batch")).toThrow(/--io batch: udp-batch addon unavailable/);
    } else {
      expect(resolveIo("batch").backend).toBe("batch");
    }
  });
});

describe("startRelay's I/O backend", () => {
  it.runIf(missing !== undefined)("refuses --io batch without the addon", async () => {
    await expect(
      startRelay({
        cluster: CLUSTER,
        keys,
        encapKeys,
        io: "batch",
        listen: { address: "127.0.0.1", port: 0 },
      }),
    ).rejects.toThrow(/--io batch: udp-batch addon unavailable/);
  });
});

/** A BatchSocket whose batches are copied out as [{bytes, family, port, a0..}], for tests. */
function recording(at = { address: "127.0.0.1", port: 0 }, batchesPerEvent?: number, onBatch?: () => void) {
  const got: { bytes: Buffer; off: number; family: number; port: number; words: number[]; scope: number }[] =
    [];
  const batches: number[] = [];
  const s = new BatchSocket(native as Exclude<typeof native, Error>, at, {
    bufferBytes: 1 << 20,
    reusePort: false,
    batchesPerEvent,
    onBatch: (n) => {
      onBatch?.();
      batches.push(n);
      for (let i = 0; i < n; i++) {
        const j = i * META_STRIDE;
        const m = s.meta;
        got.push({
          bytes: Buffer.from(s.bytes.subarray(m[j]!, m[j]! + m[j + 1]!)),
          off: m[j]!,
          family: m[j + 2]!,
          port: m[j + 3]!,
          words: [m[j + 4]!, m[j + 5]!, m[j + 6]!, m[j + 7]!],
          scope: m[j + 8]!,
        });
      }
    },
  });
  return { s, got, batches };
}

describe.skipIf(missing !== undefined && !inCi)("udp-batch sockets", () => {
  it("reports each datagram's offset, length and IPv4 sender as numbers, one callback per batch", async () => {
    const { s, got, batches } = recording();
    const peer = await Peer.open();
    try {
      const at = s.address();
      expect(at.address).toBe("127.0.0.1");
      for (let i = 0; i < 5; i++) await peer.send(Buffer.from([i, 1, 2, 3]), at);
      await until(() => got.length === 5);
      expect(batches.reduce((a, b) => a + b, 0)).toBe(5);
      for (let i = 0; i < 5; i++) {
        expect(got[i]!.bytes).toEqual(Buffer.from([i, 1, 2, 3]));
        expect(got[i]!.family).toBe(4);
        expect(got[i]!.port).toBe(peer.port);
        expect(got[i]!.words[0]! >>> 0).toBe(0x7f000001);
        expect((got[i]!.off - HEADROOM) % SLOT).toBe(0); // in its slot, behind the headroom
      }
    } finally {
      s.close();
      await peer.close();
    }
  });

  it.each([
    [undefined, 3],
    [1, 1],
  ])("reads %s batches per readable event (default 8), then lets the loop run", async (perEvent, before) => {
    const order: string[] = [];
    const { s, got } = recording(undefined, perEvent, () => {
      if (order.length === 0) setImmediate(() => order.push("loop"));
      order.push("batch");
    });
    const tx = createSocket("udp4");
    try {
      const at = s.address();
      await new Promise<void>((r) => tx.connect(at.port, at.address, r));
      // Three full batches waiting in the socket before it is read: sent (a connected socket sends at
      // once) while this loop is held, so one readable event finds them all.
      for (let i = 0; i < BATCH * 3; i++) tx.send(Buffer.from([i & 0xff]));
      const until0 = Date.now() + 50;
      while (Date.now() < until0);
      await until(() => got.length === BATCH * 3);
      expect(order.indexOf("loop")).toBe(before);
    } finally {
      tx.close();
      s.close();
    }
  });

  it("takes a 64 KB datagram whole, and more datagrams than one batch holds", async () => {
    const { s, got, batches } = recording();
    const tx = createSocket("udp4");
    try {
      const at = s.address();
      const big = Buffer.alloc(65507, 7);
      await new Promise<void>((r, j) => tx.send(big, at.port, at.address, (e) => (e ? j(e) : r())));
      await until(() => got.length === 1);
      expect(got[0]!.bytes.length).toBe(65507);
      expect(got[0]!.bytes.equals(big)).toBe(true);
      const n = BATCH * 3;
      for (let i = 0; i < n; i++) tx.send(Buffer.from([i & 255]), at.port, at.address);
      await until(() => got.length === 1 + n, 3000, `${n} datagrams`);
      expect(Math.max(...batches)).toBeLessThanOrEqual(BATCH);
    } finally {
      s.close();
      tx.close();
    }
  });

  it("sends queued ranges of another socket's receive buffer with one flush, header written in the headroom", async () => {
    const a = recording();
    const b = recording();
    const peer = await Peer.open();
    try {
      // b sends out of a's receive buffer (buffer id 0).
      b.s.sendBuffers([a.s.slab]);
      await peer.send(Buffer.from("hello"), a.s.address());
      await until(() => a.got.length === 1);
      const off = a.got[0]!.off;
      a.s.bytes.set([0xaa, 0xbb], off - 2);
      b.s.queueTo(0, off - 2, 7, { address: "127.0.0.1", port: peer.port });
      b.s.queueTo(0, off, 5, { address: "127.0.0.1", port: peer.port });
      expect(b.s.flush()).toBe(2);
      const first = await peer.next();
      expect(first.msg).toEqual(Buffer.from([0xaa, 0xbb, ...Buffer.from("hello")]));
      expect(first.rinfo.port).toBe(b.s.address().port);
      expect((await peer.next()).msg).toEqual(Buffer.from("hello"));
      // To a flow's client, from its key.
      const flow = new Flow({
        address: "127.0.0.1",
        port: peer.port,
        key: 0x7f000001 * 65536 + peer.port,
        cluster: 1,
        hop: { address: "127.0.0.1", port: 1 },
        ufrag: new Uint8Array(0),
        now: 0,
        encap: encapKeys,
      });
      b.s.queueToClient(0, off, 5, flow);
      expect(b.s.flush()).toBe(1);
      expect((await peer.next()).msg).toEqual(Buffer.from("hello"));
      expect(b.s.sendFailures).toBe(0);
    } finally {
      a.s.close();
      b.s.close();
      await peer.close();
    }
  });

  it("counts what it cannot send, never throws: a bad range, the wrong family, a refused destination", async () => {
    const a = recording();
    try {
      a.s.sendBuffers([new ArrayBuffer(16)]);
      a.s.queueTo(0, 8, 100, { address: "127.0.0.1", port: 9 }); // past the buffer's end
      a.s.queueTo(0, 0, 4, { address: "::1", port: 9 }); // IPv6 from an IPv4 socket
      a.s.queueTo(0, 0, 4, { address: "127.0.0.1", port: 0 }); // port 0: EINVAL
      a.s.queueTo(0, 0, 4, { address: "127.0.0.1", port: 9 }); // fine (nobody listens: UDP does not know)
      expect(a.s.flush()).toBe(1);
      expect(a.s.sendFailures).toBe(3);
      a.s.close();
      a.s.queueTo(0, 0, 4, { address: "127.0.0.1", port: 9 });
      expect(a.s.flush()).toBe(0); // closed: nothing, no throw
      expect(a.s.sendTo(Buffer.from("x"), { address: "127.0.0.1", port: 9 })).toBe(false);
    } finally {
      a.s.close();
    }
  });

  it("binds errors like node:dgram: EADDRINUSE without SO_REUSEPORT, shared with it", () => {
    const a = recording();
    try {
      const port = a.s.address().port;
      expect(() => recording({ address: "127.0.0.1", port })).toThrow(/EADDRINUSE/);
    } finally {
      a.s.close();
    }
    const mk = () =>
      new BatchSocket(
        native as Exclude<typeof native, Error>,
        { address: "127.0.0.1", port: 0 },
        {
          bufferBytes: 0,
          reusePort: true,
          onBatch: () => {},
        },
      );
    const x = mk();
    const y = new BatchSocket(native as Exclude<typeof native, Error>, x.address(), {
      bufferBytes: 0,
      reusePort: true,
      onBatch: () => {},
    });
    expect(y.address().port).toBe(x.address().port);
    x.close();
    y.close();
  });

  it("IPv6: reports the sender's four words (and IPv4-mapped senders as IPv4), sends back to both", async (ctx) => {
    const v6 = await ipv6Peer(ctx);
    const { s, got } = recording({ address: "::", port: 0 });
    const v4 = await Peer.open("127.0.0.1");
    try {
      const port = s.address().port;
      await v6.send(Buffer.from("six"), { address: "::1", port });
      await v4.send(Buffer.from("four"), { address: "127.0.0.1", port });
      await until(() => got.length === 2);
      const six = got.find((g) => g.family === 6)!;
      expect(six.words).toEqual([0, 0, 0, 1]);
      expect(six.port).toBe(v6.port);
      const m = new Int32Array(META_STRIDE);
      m.set([0, 0, 6, 0, 0x20010db8, 0, 0, 1, 0, 0]);
      expect(formatMetaV6(m, 0)).toBe("2001:db8::1");
      m[8] = 3;
      expect(formatMetaV6(m, 0)).toBe("2001:db8::1%3");
      const four = got.find((g) => g.family === 4)!;
      expect(four.words[0]! >>> 0).toBe(0x7f000001);
      expect(four.port).toBe(v4.port);
      s.sendBuffers([new ArrayBuffer(4)]);
      s.queueTo(0, 0, 4, { address: "::1", port: v6.port });
      s.queueTo(0, 0, 4, { address: "127.0.0.1", port: v4.port }); // as ::ffff:127.0.0.1
      expect(s.flush()).toBe(2);
      expect((await v6.next()).msg.length).toBe(4);
      expect((await v4.next()).msg.length).toBe(4);
    } finally {
      s.close();
      await v6.close();
      await v4.close();
    }
  });
});
