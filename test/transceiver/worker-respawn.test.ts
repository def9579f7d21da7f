/**
 * A transceiver worker process killed with SIGKILL: its sessions are gone (listed nowhere, counted
 * as closed with reason worker_exit), creating keeps working meanwhile, and the worker is forked
 * again (a new pid, counted in worker_restarts_total) and takes sessions again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postSession, type SpawnedTransceiver, spawnTransceiver } from "../support/stack.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

let tx: SpawnedTransceiver;
const clients: TestClient[] = [];
const auth = { authorization: "Bearer tok" };

beforeAll(async () => {
  tx = await spawnTransceiver({
    cluster: 8,
    ingress: "127.0.0.1:3478",
    workers: 2,
    extraArgs: ["--token", "tok"],
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await tx?.stop("SIGINT");
});

interface Load {
  index: number;
  pid: number;
  sessions: number;
}
const workers = async () =>
  ((await (await fetch(`${tx.url}/healthz`)).json()) as { workers: Load[] }).workers;

async function create(): Promise<{ status: number; id: string }> {
  const client = createTestClient();
  clients.push(client);
  const res = await postSession(tx.url, { sdp: await client.offer() }, "tok");
  const body = (await res.json()) as { id: string };
  return { status: res.status, id: body.id };
}

/** Polls until `check` holds (the parent learns of the exit and respawn by events we cannot await from here). */
async function until<T>(read: () => Promise<T>, check: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await read();
    if (check(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metric = async (line: string) =>
  (await (await fetch(`${tx.url}/metrics`)).text()).split("\n").find((l) => l.startsWith(line));

describe("a transceiver worker that dies", () => {
  it("loses its sessions, is restarted, and never fails a request meanwhile", async () => {
    const a = await create();
    const b = await create();
    expect([a.status, b.status]).toEqual([201, 201]);
    const before = await workers();
    expect(before.map((w) => w.sessions)).toEqual([1, 1]);
    const onW0 = [a, b].find((s) => s.id.includes("-w0_"))!;

    process.kill(before[0]!.pid, "SIGKILL");
    // Creations while worker 0 is dead or restarting all succeed (on worker 1 while it is down).
    const during = await Promise.all([create(), create()]);
    expect(during.map((s) => s.status)).toEqual([201, 201]);

    const after = await until(
      workers,
      (ws) => ws[0]!.pid !== 0 && ws[0]!.pid !== before[0]!.pid,
      "worker 0 to run again",
    );
    expect(after[1]!.pid).toBe(before[1]!.pid);
    // Its session is gone, not lingering: not found, not listed.
    expect((await fetch(`${tx.url}/v1/sessions/${onW0.id}`, { headers: auth })).status).toBe(404);
    const listed = await fetch(`${tx.url}/v1/sessions`, { headers: auth });
    expect(listed.status).toBe(200);
    const ids = (await listed.json()) as { data?: { id: string }[] } | { id: string }[] as unknown;
    expect(JSON.stringify(ids)).not.toContain(onW0.id);
    expect(await metric('voice_edge_transceiver_worker_restarts_total{worker="0"}')).toMatch(/ 1$/);
    expect(await metric('voice_edge_transceiver_worker_restarts_total{worker="1"}')).toMatch(/ 0$/);
    expect(
      await metric('voice_edge_transceiver_sessions_closed_total{worker="0",reason="worker_exit"}'),
    ).toMatch(/ 1$/);

    // The restarted worker takes new sessions again (it is the least loaded now).
    const again = await create();
    expect(again.status).toBe(201);
    expect(again.id).toContain("-w0_");
  });
});
