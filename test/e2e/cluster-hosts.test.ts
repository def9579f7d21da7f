/**
 * Two transceiver hosts of one cluster behind one address (as pods behind a
 * Kubernetes Service): a request for a session may reach the other host, which
 * finds the owner from the session id and forwards, once.
 */
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintLocalSessionId, SessionIds } from "../../media/transceiver/session-id.ts";
import { parseKeyring } from "../../shared/hint.ts";
import { postSession, type SpawnedTransceiver, spawnTransceiver, TEST_KEYS } from "../support/stack.ts";
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
    const res = await postSession(a.url, { sdp: await client.offer() }, "tok");
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect(id).toMatch(/^h4[A-Za-z0-9_-]{20}-w0_/);

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
    const dead = new SessionIds(parseKeyring(TEST_KEYS)).mint(
      { address: "127.0.0.1", port: 1 },
      mintLocalSessionId(0),
    );
    const r = await fetch(`${b.url}/v1/sessions/${dead}`, { method: "DELETE", headers: auth });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("transceiver_unreachable");
    expect((await fetch(`${b.url}/v1/sessions/nonsense`, { headers: auth })).status).toBe(404);
  });

  it("never contacts a host named by an id it did not sign (no SSRF)", async () => {
    let requests = 0;
    const target = createServer((_req, res) => {
      requests++;
      res.end("{}");
    });
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    try {
      const port = (target.address() as { port: number }).port;
      const foreign = new SessionIds(parseKeyring(`7:${"00".repeat(24)}`));
      const forged = foreign.mint({ address: "127.0.0.1", port }, mintLocalSessionId(0));
      for (const [method, path] of [
        ["GET", forged],
        ["DELETE", forged],
        ["POST", `${forged}/offer`],
      ] as const) {
        const res = await fetch(`${b.url}/v1/sessions/${path}`, {
          method,
          headers: { ...auth, "content-type": "application/sdp" },
          body: method === "POST" ? "v=0\r\n" : undefined,
        });
        expect(res.status, method).toBe(404);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("session_not_found");
      }
      expect(requests).toBe(0);
    } finally {
      await new Promise((r) => target.close(r));
    }
  });
});
