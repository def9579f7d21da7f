/** The impairer's shell on loopback: one upstream socket per client, rebinding, blackouts, the control API. */
import { afterEach, describe, expect, it } from "vitest";
import { impairApp } from "../../media/impair/admin.ts";
import { type Impairer, startImpairer } from "../../media/impair/impairer.ts";
import { CLEAN, parseProfile } from "../../media/impair/profile.ts";
import { type Datagram, type Peer, Peers } from "../support/udp.ts";

let impairer: Impairer | undefined;
const peers = new Peers();
afterEach(async () => {
  await impairer?.close();
  impairer = undefined;
  await peers.closeAll();
});

/** A target that answers every datagram with the source port it came from. */
async function portEcho(): Promise<Peer & { seen: Datagram[] }> {
  const p = (await peers.open()) as Peer & { seen: Datagram[] };
  p.seen = [];
  p.onDatagram = (d) => {
    p.seen.push(d);
    p.socket.send(`${d.msg.toString()}@${d.rinfo.port}`, d.rinfo.port, d.rinfo.address);
  };
  return p;
}

async function setup(profile = CLEAN) {
  const target = await portEcho();
  impairer = await startImpairer({
    listen: { address: "127.0.0.1", port: 0 },
    target: { address: "127.0.0.1", port: target.port },
    up: profile,
    down: profile,
    seed: 5,
  });
  return { target, at: impairer.address };
}

/** Sends `text` and returns the answer: "<text>@<source port the target saw>". */
async function ask(c: Peer, at: { address: string; port: number }, text: string): Promise<string> {
  await c.send(Buffer.from(text), at);
  return (await c.next()).msg.toString();
}

describe("impairer", () => {
  it("gives each client its own upstream address, and answers from the address clients sent to", async () => {
    const { at } = await setup();
    const [a, b] = [await peers.open(), await peers.open()];
    const ra = await ask(a, at, "a");
    const rb = await ask(b, at, "b");
    const pa = ra.split("@")[1];
    expect(ra.startsWith("a@")).toBe(true);
    expect(rb.split("@")[1]).not.toBe(pa);
    expect(await ask(a, at, "a2")).toBe(`a2@${pa}`);
    await a.send(Buffer.from("x"), at);
    expect((await a.next()).rinfo.port).toBe(at.port);
    expect(impairer!.clients()).toHaveLength(2);
    expect(impairer!.stats.clients).toBe(2);
  });

  it("rebind moves one client to a new source port; late answers to the old one are lost", async () => {
    const { at, target } = await setup();
    const [a, b] = [await peers.open(), await peers.open()];
    const pa = (await ask(a, at, "a")).split("@")[1];
    const pb = (await ask(b, at, "b")).split("@")[1];
    const [moved] = await impairer!.rebind(`127.0.0.1:${a.port}`);
    expect(moved!.client).toBe(`127.0.0.1:${a.port}`);
    const after = (await ask(a, at, "a")).split("@")[1];
    expect(after).not.toBe(pa);
    expect(moved!.upstream).toBe(`127.0.0.1:${after}`);
    expect((await ask(b, at, "b")).split("@")[1]).toBe(pb);
    // the target answers the old port: the impairer no longer listens there (as a NAT would have forgotten it)
    await target.send(Buffer.from("late"), { address: "127.0.0.1", port: Number(pa) });
    expect(await ask(a, at, "ping")).toBe(`ping@${after}`);
    expect(a.pending).toBe(0);
    expect(impairer!.stats.rebinds).toBe(1);
    expect(await impairer!.rebind("127.0.0.1:1")).toEqual([]);
  });

  it("blackout drops both ways for its duration, counted per direction", async () => {
    const { at, target } = await setup();
    const a = await peers.open();
    await ask(a, at, "before");
    impairer!.blackout(60_000);
    await a.send(Buffer.from("lost"), at);
    await expect(a.next(300)).rejects.toThrow(/no datagram/);
    expect(target.seen.map((d) => d.msg.toString())).toEqual(["before"]);
    expect(impairer!.stats.up.drops.blackout).toBe(1);
    // answers from the target during a blackout are dropped too
    const upstream = impairer!.clients()[0]!.upstream.split(":")[1];
    await target.send(Buffer.from("down"), { address: "127.0.0.1", port: Number(upstream) });
    const deadline = Date.now() + 2000;
    while (impairer!.stats.down.drops.blackout < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    expect(impairer!.stats.down.drops.blackout).toBe(1);
    expect(a.pending).toBe(0);
  });

  it("delays datagrams through its queue, in order", async () => {
    const { at } = await setup(parseProfile("delay=30,jitter=10"));
    const a = await peers.open();
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await a.send(Buffer.from(String(i)), at);
    const got: string[] = [];
    for (let i = 0; i < 20; i++) got.push((await a.next()).msg.toString().split("@")[0]!);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    // at least 2 x (30 - 10) ms: both directions are delayed
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
  });
});

describe("impairer control API", () => {
  it("switches profiles, starts blackouts, rebinds, and refuses bad input in the API's error shape", async () => {
    const { at } = await setup();
    const app = impairApp(impairer!);
    const a = await peers.open();
    const before = (await ask(a, at, "a")).split("@")[1];

    const set = await app.request("/profile?direction=down", { method: "POST", body: "loss2" });
    expect(set.status).toBe(200);
    expect(impairer!.profile("down").loss).toBe(0.02);
    expect(impairer!.profile("up").loss).toBe(0);

    const bad = await app.request("/profile", { method: "POST", body: "loss=200%" });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { error: { code: string; type: string; message: string } };
    expect(err.error).toMatchObject({ code: "invalid_profile", type: "invalid_request_error" });
    expect(err.error.message).toMatch(/loss/);
    expect(impairer!.profile("down").loss).toBe(0.02);
    expect((await app.request("/profile?direction=sideways", { method: "POST", body: "" })).status).toBe(400);

    expect((await app.request("/blackout?ms=abc", { method: "POST" })).status).toBe(400);
    expect((await app.request("/blackout?ms=50", { method: "POST" })).status).toBe(200);

    const rebound = await app.request("/rebind", { method: "POST" });
    expect(((await rebound.json()) as { rebound: unknown[] }).rebound).toHaveLength(1);
    expect((await app.request("/rebind?client=127.0.0.1:1", { method: "POST" })).status).toBe(404);
    impairer!.setProfile(CLEAN);
    const deadline = Date.now() + 2000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      // the 50 ms blackout may still be on
      await a.send(Buffer.from("a"), at);
      after = await a
        .next(100)
        .then((d) => d.msg.toString().split("@")[1]!)
        .catch(() => before);
    }
    expect(after).not.toBe(before);
    const stats = (await (await app.request("/stats")).json()) as { rebinds: number; clients: number };
    expect(stats).toMatchObject({ rebinds: 1, clients: 1 });
  });
});
