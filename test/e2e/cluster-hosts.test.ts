/**
 * Two transceiver hosts of one cluster behind one address (as pods behind a
 * Kubernetes Service): a request for a session may reach the other host, which
 * finds the owner from the session id and forwards, once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SpawnedTransceiver, spawnTransceiver } from "../support/stack.ts";
import { createTestClient, type TestClient } from "../support/werift-client.ts";

let a: SpawnedTransceiver;
let b: SpawnedTransceiver;
const clients: TestClient[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([
    spawnTransceiver({ cluster: 6, ingress: "127.0.0.1:3478", workers: 0, extraArgs: ["--token", "tok"] }),
    spawnTransceiver({ cluster: 6, ingress: "127.0.0.1:3478", workers: 0, extraArgs: ["--token", "tok"] }),
  ]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([a?.stop("SIGINT"), b?.stop("SIGINT")]);
});

const auth = { authorization: "Bearer tok" };

describe("sessions across hosts of a cluster", () => {
  it("reads and ends a session through the other host", async () => {
    const client = createTestClient();
    clients.push(client);
    const res = await fetch(`${a.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/sdp", ...auth },
      body: await client.offer(),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect(id).toMatch(/^h[0-9a-f]{12}-w0_/);

    const viaB = await fetch(`${b.url}/v1/sessions/${id}`, { headers: auth });
    expect(viaB.status).toBe(200);
    expect(((await viaB.json()) as { id: string }).id).toBe(id);
    // A forwarded request is never forwarded again (no loops between hosts).
    const looped = await fetch(`${b.url}/v1/sessions/${id}`, {
      headers: { ...auth, "x-voice-edge-forwarded": "1" },
    });
    expect(looped.status).toBe(404);
    // The forwarding host needs the token too.
    expect((await fetch(`${b.url}/v1/sessions/${id}`, { method: "DELETE" })).status).toBe(401);

    expect((await fetch(`${b.url}/v1/sessions/${id}`, { method: "DELETE", headers: auth })).status).toBe(204);
    expect((await fetch(`${a.url}/v1/sessions/${id}`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${b.url}/v1/sessions/${id}`, { method: "DELETE", headers: auth })).status).toBe(404);
  });

  it("answers 502 when the owning host is gone, and 404 for ids of no host", async () => {
    const dead = `h${Buffer.from([127, 0, 0, 1, 0, 1]).toString("hex")}-w0_abcdef`;
    const r = await fetch(`${b.url}/v1/sessions/${dead}`, { method: "DELETE", headers: auth });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("transceiver_unreachable");
    expect((await fetch(`${b.url}/v1/sessions/nonsense`, { headers: auth })).status).toBe(404);
  });
});
