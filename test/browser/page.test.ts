/** The demo page's HTML and key mode, without a browser (runs even where none is installed). */
import { describe, expect, it } from "vitest";
import { DEV_API_KEY } from "../../edge/config/defaults.ts";
import { demoConfig, renderDemoPage } from "../../edge/demo/render.ts";

describe("demo page", () => {
  it("embeds the well-known dev key only on a dev edge that uses it", () => {
    expect(demoConfig({ VOICE_EDGE_ENV: "dev" })).toEqual({ mode: "dev", devKey: DEV_API_KEY });
    expect(demoConfig({ VOICE_EDGE_ENV: "dev", API_KEYS: "sk-real" })).toEqual({ mode: "key" });
    expect(demoConfig({ VOICE_EDGE_ENV: "staging" })).toEqual({ mode: "key" });
    expect(demoConfig({ VOICE_EDGE_ENV: "production", API_KEYS: "sk-real" })).toEqual({ mode: "key" });
    expect(demoConfig({})).toEqual({ mode: "key" });
    const html = renderDemoPage({ mode: "key" }, "n0nce");
    expect(html).not.toContain(DEV_API_KEY);
    expect(html).toContain('data-mode="key"');
  });

  it("is one self-contained document: inline style and script under the nonce, ids the tests use", () => {
    const html = renderDemoPage({ mode: "dev", devKey: DEV_API_KEY }, "n0nce");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain('<style nonce="n0nce">');
    expect(html).toContain('<script nonce="n0nce">');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const id of ["state", "call", "cluster", "region", "ingress", "attempts", "packets-in", "events-in"])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain('name="viewport"');
    // The config block cannot close its script element early.
    const evil = renderDemoPage({ mode: "dev", devKey: "</script><script>alert(1)</script>" }, "n");
    expect(evil).not.toContain("</script><script>alert(1)");
  });

  it("ships a script that parses", () => {
    const html = renderDemoPage({ mode: "key" }, "n");
    const script = html.slice(html.indexOf('<script nonce="n">') + 18, html.lastIndexOf("</script>"));
    expect(() => new Function(script)).not.toThrow();
    expect(script).toContain('createDataChannel("oai-events")');
    expect(script).toContain('"/v1/realtime/calls"');
  });
});
