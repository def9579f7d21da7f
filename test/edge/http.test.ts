import { describe, expect, it } from "vitest";
import { mergeSession, readOffer } from "../../edge/calls/offer.ts";
import { readCapped, readJsonObject } from "../../edge/http/body.ts";
import { corsHeaders, parseCorsOrigins, preflightHeaders } from "../../edge/http/cors.ts";
import { ApiError } from "../../edge/http/errors.ts";
import { checkOffer } from "../../shared/offer.ts";
import { OFFER } from "./support/sdp.ts";

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

describe("offer validation", () => {
  it("accepts a browser offer without candidates, with LF or CRLF line ends", () => {
    expect(checkOffer(OFFER).ok).toBe(true);
    expect(checkOffer(OFFER.replaceAll("\r\n", "\n")).ok).toBe(true);
    expect(OFFER).not.toContain("a=candidate");
  });

  it.each([
    ["", /empty/],
    ["  \r\n", /empty/],
    ["hello", /start with 'v=0'/],
    [OFFER.replace("v=0", "v=1"), /start with 'v=0'/],
    [OFFER.replace(/m=.*\r\n/g, ""), /no audio or data-channel media section/],
    [OFFER.replace(/m=(audio|application)/g, "m=text"), /no audio or data-channel media section/],
    ["v=0\r\n" + "a=x\r\n".repeat(20_000), /larger than 65536 bytes/],
    [OFFER.replace(/a=fingerprint:.*\r\n/g, ""), /lacks a=fingerprint/],
    [
      OFFER.replace(/a=ice-ufrag:.*\r\n/g, "").replace(/a=ice-pwd:.*\r\n/g, ""),
      /lacks a=ice-ufrag, a=ice-pwd/,
    ],
    [`${OFFER}<html>\r\n`, /Line \d+ .* not an SDP line/],
  ])("rejects %#", (sdp, message) => {
    const r = checkOffer(sdp);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(message);
  });
});

describe("request bodies", () => {
  const post = (body: RequestInit["body"], headers: Record<string, string> = {}) =>
    new Request("http://x/", { method: "POST", body, headers, duplex: "half" } as RequestInit);

  it("caps by Content-Length and while streaming", async () => {
    expect((await readCapped(post("abcd"), 4)).length).toBe(4);
    expect((await apiError(readCapped(post("abcde"), 4))).status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(1000));
        c.close();
      },
    });
    const err = await apiError(readCapped(post(stream), 4096));
    expect(err).toMatchObject({ status: 413, code: "request_too_large" });
  });

  it("reads SDP and multipart offers, including an SDP sent as a file", async () => {
    expect(await readOffer(post(OFFER, { "content-type": "application/sdp" }), 65536)).toEqual({
      sdp: OFFER,
    });
    const form = new FormData();
    form.set("sdp", new Blob([OFFER], { type: "application/sdp" }), "offer.sdp");
    form.set("session", JSON.stringify({ type: "realtime", model: "m" }));
    expect(await readOffer(post(form), 65536)).toEqual({
      sdp: OFFER,
      session: { type: "realtime", model: "m" },
    });
  });

  it("explains what is wrong with a multipart offer", async () => {
    const form = new FormData();
    form.set("session", "{}");
    expect(await apiError(readOffer(post(form), 65536))).toMatchObject({
      status: 400,
      code: "invalid_offer",
      param: "sdp",
    });
    form.set("sdp", OFFER);
    form.set("session", "[1]");
    expect(await apiError(readOffer(post(form), 65536))).toMatchObject({
      code: "invalid_value",
      param: "session",
    });
    form.set("session", "{bad");
    expect(await apiError(readOffer(post(form), 65536))).toMatchObject({
      code: "invalid_value",
      param: "session",
    });
    expect(await apiError(readOffer(post("x", { "content-type": "text/html" }), 65536))).toMatchObject({
      status: 415,
    });
  });

  it("reads JSON objects, treating an empty body as {}", async () => {
    expect(await readJsonObject(post(""), 100)).toEqual({});
    expect(
      await readJsonObject(post('{"a":1}', { "content-type": "application/json; charset=utf-8" }), 100),
    ).toEqual({ a: 1 });
    expect(
      await apiError(readJsonObject(post("[]", { "content-type": "application/json" }), 100)),
    ).toMatchObject({
      code: "invalid_json",
    });
  });

  it("merges session layers in order and caps their size", () => {
    expect(mergeSession([{ a: 1, b: 1 }, undefined, { b: 2 }], 100)).toEqual({ a: 1, b: 2 });
    expect(mergeSession([undefined], 100)).toBeUndefined();
    expect(() => mergeSession([{ instructions: "x".repeat(200) }], 100)).toThrow(/exceeds 100 bytes/);
  });
});

describe("CORS", () => {
  it("answers preflights with the SDK's headers plus whatever the browser asks for", () => {
    const h = preflightHeaders(
      parseCorsOrigins(undefined),
      "https://app.test",
      "X-OpenAI-Agents-SDK, x-trace-id, bad header",
    )!;
    expect(h["access-control-allow-origin"]).toBe("*");
    const allowed = h["access-control-allow-headers"]!.split(", ");
    expect(allowed).toEqual(
      expect.arrayContaining(["authorization", "content-type", "x-openai-agents-sdk", "x-trace-id"]),
    );
    expect(allowed).not.toContain("bad header");
    expect(h["access-control-allow-methods"]).toContain("POST");
  });

  it("echoes only listed origins when CORS_ALLOW_ORIGINS narrows them, and always exposes Location", () => {
    const policy = parseCorsOrigins("https://a.test, https://b.test/");
    expect(preflightHeaders(policy, "https://evil.test", null)).toBeUndefined();
    expect(preflightHeaders(policy, "https://b.test", null)!["access-control-allow-origin"]).toBe(
      "https://b.test",
    );
    expect(corsHeaders(policy, "https://evil.test")).toEqual({ vary: "Origin" });
    const ok = corsHeaders(policy, "https://a.test");
    expect(ok["access-control-allow-origin"]).toBe("https://a.test");
    expect(ok["access-control-expose-headers"]).toMatch(/(^|, )location(,|$)/);
  });
});
