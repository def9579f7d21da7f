/**
 * GPT-Live's WebRTC session creation on the Worker (Miniflare) against fake
 * transceivers: the request and answer shapes of the `openai` package's
 * live.create, hangup by the session id, and every bad request an OpenAI-shaped 400/401.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { API_KEY, type Edge, startEdge } from "./support/edge.ts";
import { FakeTransceiver } from "./support/fake-transceiver.ts";
import { OFFER } from "./support/sdp.ts";
import { CITY, topology } from "./support/topology.ts";

const eu = new FakeTransceiver(1);
const us = new FakeTransceiver(2);
let edge: Edge;

beforeAll(async () => {
  await Promise.all([eu.start(), us.start()]);
  edge = await startEdge({
    config: topology([
      ["fra", eu],
      ["iad", us],
    ]),
  });
});
afterAll(async () => {
  await edge?.dispose();
  await Promise.all([eu.stop(), us.stop()]);
});
beforeEach(async () => {
  eu.reset();
  us.reset();
  await edge.resetHealth();
});

const live = (body: unknown, key: string | null = API_KEY) =>
  edge.fetch("/v1/live/sessions", {
    method: "POST",
    cf: CITY.berlin,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const valid = {
  session: { model: "gpt-live-1", instructions: "be brief" },
  transport: { type: "webrtc", sdp: OFFER },
};

async function expectError(r: Response, status: number, code: string, param: string | null = null) {
  expect(r.status).toBe(status);
  const body = (await r.json()) as { error: Record<string, unknown> };
  expect(body.error).toMatchObject({ code, param, type: "invalid_request_error" });
  expect(body.error.message).toEqual(expect.any(String));
}

describe("POST /v1/live/sessions", () => {
  it("creates a session on the nearest cluster and answers Live's shape", async () => {
    const r = await live(valid);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { session: { id: string }; transport: { type: string; sdp: string } };
    expect(Object.keys(body).sort()).toEqual(["session", "transport"]);
    expect(body.session.id).toMatch(/^rtc_/);
    expect(body.transport.type).toBe("webrtc");
    expect(body.transport.sdp).toMatch(/^v=0/);
    expect(r.headers.get("x-voice-edge-cluster")).toBe("1");
    // The transceiver gets the offer and the session config marked as Live.
    const [create] = eu.creates();
    expect(create!.body).toMatchObject({
      sdp: OFFER,
      session: { model: "gpt-live-1", instructions: "be brief", type: "live" },
    });
  });

  it("hangs up by the session id it answered, once", async () => {
    const { session } = (await (await live(valid)).json()) as { session: { id: string } };
    const hangup = () =>
      edge.fetch(`/v1/live/sessions/${session.id}/hangup`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}` },
      });
    expect((await hangup()).status).toBe(200);
    expect(eu.received.filter((x) => x.method === "DELETE").map((x) => x.path)).toEqual([
      `/v1/sessions/${eu.created.at(-1)}`,
    ]);
    await expectError(await hangup(), 404, "session_not_found", "session_id");
  });

  it("refuses bad requests before any transceiver is asked", async () => {
    await expectError(await live({ session: valid.session }), 400, "missing_required_parameter", "transport");
    await expectError(await live({ ...valid, transport: "webrtc" }), 400, "invalid_type", "transport");
    await expectError(
      await live({ ...valid, transport: { type: "websocket", sdp: OFFER } }),
      400,
      "invalid_value",
      "transport.type",
    );
    await expectError(
      await live({ ...valid, transport: { type: "webrtc" } }),
      400,
      "missing_required_parameter",
      "transport.sdp",
    );
    await expectError(
      await live({ ...valid, transport: { type: "webrtc", sdp: "v=0\r\nnot an offer" } }),
      400,
      "invalid_offer",
      "transport.sdp",
    );
    await expectError(
      await live({ transport: valid.transport }),
      400,
      "missing_required_parameter",
      "session",
    );
    await expectError(
      await live({ ...valid, session: { instructions: "x" } }),
      400,
      "missing_required_parameter",
      "session.model",
    );
    await expectError(await live("{not json"), 400, "invalid_json");
    expect(eu.creates()).toHaveLength(0);
    expect(us.creates()).toHaveLength(0);
  });

  it("takes a project API key only", async () => {
    const r = await live(valid, null);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("missing_api_key");
    const ek = await live(valid, "ek_not_for_live");
    expect(ek.status).toBe(401);
    expect(((await ek.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    expect(eu.creates()).toHaveLength(0);
  });
});
