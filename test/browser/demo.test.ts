/**
 * The demo page through the whole stack, in real browsers: headless Chromium (playwright-core) and
 * Firefox ESR (puppeteer-core, WebDriver BiDi), each with a fake microphone, open the page the edge
 * Worker serves and call: edge -> steering -> ingress (relay) -> transceiver (echo, or a backend when
 * one is configured) and back. Then region A's transceiver host goes away mid-test: the next calls land
 * in region B while a call already up there keeps flowing. Screenshots go to artifacts/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page as PlaywrightPage } from "playwright-core";
import type { Page as PuppeteerPage } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../media/runtime/log.ts";
import { startLocalEdge } from "../../media/stack/edge.ts";
import { type RunningStack, startStack } from "../../media/stack/main.ts";
import { edgeConfig, parseTopology } from "../../media/stack/topology.ts";
import { chromiumMissing, launchChromium } from "../support/chromium.ts";
import { firefoxMissing, launchFirefox } from "../support/firefox.ts";
import { freePort } from "../support/stack.ts";
import { freeUdpPort } from "../support/udp.ts";

const noChromium = chromiumMissing();
const noFirefox = firefoxMissing();
const ARTIFACTS = join(process.cwd(), "artifacts");
const DEV_KEY = "sk-voice-edge-dev-key";
const SERVER_KEY = "sk-demo-test-server-key-0001";

/** Region A (Frankfurt) is nearest the caller (Paris); region B is Ashburn. */
const A = { name: "eu", cluster: 21 };
const B = { name: "us", cluster: 22 };

/** What the page shows (read in the browser: keep it self-contained). */
function readDemo() {
  const el = (id: string) => document.getElementById(id)!;
  return {
    state: el("state").dataset.state ?? "",
    cluster: el("cluster").textContent ?? "",
    region: el("region").textContent ?? "",
    ingress: el("ingress").textContent ?? "",
    ingressAddress: el("ingress-address").textContent ?? "",
    attempts: el("attempts").dataset.value ?? "",
    packetsIn: Number(el("packets-in").dataset.count),
    packetsOut: Number(el("packets-out").dataset.count),
    eventsIn: Number(el("events-in").dataset.count),
    eventsOut: Number(el("events-out").dataset.count),
    micPeak: Number(el("mic-meter").dataset.peak),
    outPeak: Number(el("out-meter").dataset.peak),
    rtt: el("rtt").textContent ?? "",
    jitter: el("jitter").textContent ?? "",
    loss: el("loss").textContent ?? "",
    error: el("error").textContent ?? "",
    log: Array.from(document.querySelectorAll("#log li"), (li) => li.textContent ?? ""),
  };
}
type DemoView = ReturnType<typeof readDemo>;

/** The same few operations over Playwright's and Puppeteer's pages. */
interface Tab {
  browser: string;
  read(): Promise<DemoView>;
  click(selector: string): Promise<void>;
  /** Replaces the field's text, as a person typing it would. */
  fill(selector: string, text: string): Promise<void>;
  resize(width: number, height: number): Promise<void>;
  screenshot(file: string): Promise<void>;
  close(): Promise<void>;
}

function playwrightTab(page: PlaywrightPage): Tab {
  return {
    browser: "chromium",
    read: () => page.evaluate(readDemo),
    click: (s) => page.click(s),
    fill: (s, text) => page.fill(s, text),
    resize: (width, height) => page.setViewportSize({ width, height }),
    screenshot: async (file) => void (await page.screenshot({ path: file, fullPage: true })),
    close: () => page.close(),
  };
}

function puppeteerTab(page: PuppeteerPage): Tab {
  return {
    browser: "firefox",
    read: () => page.evaluate(readDemo),
    click: (s) => page.click(s),
    fill: (s, text) => page.locator(s).fill(text),
    resize: (width, height) => page.setViewport({ width, height }),
    screenshot: async (file) =>
      void (await page.screenshot({ path: file as `${string}.png`, fullPage: true })),
    close: () => page.close(),
  };
}

/** Polls what the page shows until `ok` holds (there is no event to wait on across the driver). */
async function until(
  tab: Tab,
  what: string,
  ok: (v: DemoView) => boolean,
  timeoutMs = 15_000,
): Promise<DemoView> {
  const deadline = Date.now() + timeoutMs;
  let v = await tab.read();
  while (!ok(v)) {
    if (Date.now() > deadline)
      throw new Error(
        `${tab.browser}: timed out waiting for ${what}; page shows ${JSON.stringify(v, null, 1)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
    v = await tab.read();
  }
  return v;
}

let stack: RunningStack;
let edgeUrl: string;
let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
let firefox: Awaited<ReturnType<typeof launchFirefox>> | undefined;

beforeAll(async () => {
  if (noChromium && noFirefox) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  const topology = parseTopology({
    host: "127.0.0.1",
    // Echo mode: the fake microphones never fall silent, so a turn-taking agent would never answer;
    // these tests check the media path and the page (the bridge has its own: test/e2e/bridge.test.ts).
    backend: "echo",
    // Probes only at start: the failover below must come from the edge's passive health.
    edge: { port: await freePort(), probeSeconds: 60, cf: { latitude: "48.8566", longitude: "2.3522" } },
    regions: [
      {
        ...A,
        latitude: 50.11,
        longitude: 8.68,
        ingressPort: await freeUdpPort(),
        transceiverPort: await freePort(),
        workers: 1,
      },
      {
        ...B,
        latitude: 39.04,
        longitude: -77.49,
        ingressPort: await freeUdpPort(),
        transceiverPort: await freePort(),
        workers: 1,
      },
    ],
  });
  [stack, chromium, firefox] = await Promise.all([
    startStack(topology),
    noChromium ? undefined : launchChromium(),
    noFirefox ? undefined : launchFirefox(),
  ]);
  edgeUrl = stack.edge!.url;
});

afterAll(async () => {
  await Promise.allSettled([chromium?.close(), firefox?.close()]);
  await stack?.close();
});

async function openDemo(which: "chromium" | "firefox", path = "/", base = edgeUrl): Promise<Tab> {
  if (which === "chromium") {
    const page = await chromium!.context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(base + path);
    return playwrightTab(page);
  }
  const page = await firefox!.browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(base + path);
  return puppeteerTab(page);
}

/** Polls a condition outside the page until it holds. */
async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sessions the region's transceiver host has now. */
async function sessionsOf(region: number): Promise<number> {
  const res = await fetch(`${stack.transceivers[region]!.url}/v1/sessions`, {
    headers: { authorization: `Bearer ${stack.token}` },
  });
  const body = (await res.json()) as { sessions: unknown[] };
  return body.sessions.length;
}

/** Connect, then check the route, the media both ways, the meters and the events. */
async function callAndCheck(tab: Tab, expect_: { cluster: number; region: string; attempts?: number }) {
  await tab.click("#call");
  const up = await until(tab, "connected", (v) => v.state === "connected" || v.state === "failed");
  expect(up.error).toBe("");
  expect(up.state).toBe("connected");
  expect(up.cluster).toBe(String(expect_.cluster));
  expect(up.region).toBe(expect_.region);
  // The ingress is the one nearest the caller, whichever cluster took the call.
  expect(up.ingress).toBe(A.name);
  expect(up.ingressAddress).toBe(`127.0.0.1:${stack.topology.regions[0]!.ingressPort}`);
  if (expect_.attempts) expect(up.attempts).toBe(String(expect_.attempts));
  // Echoed (or answered) audio arrives, the output meter hears it, and events come back on oai-events
  // (the echo of the page's session.update today; session.created/updated from a bridged transceiver).
  const flowing = await until(
    tab,
    "inbound audio, output level and events",
    (v) => v.packetsIn >= 50 && v.outPeak > 0.001 && v.eventsIn >= 1 && v.rtt !== "—",
  );
  expect(flowing.eventsOut).toBeGreaterThanOrEqual(1);
  expect(flowing.micPeak).toBeGreaterThan(0.001);
  expect(flowing.log.some((l) => l.includes("session.update"))).toBe(true);
  expect(flowing.jitter).toMatch(/ ms$/);
  expect(flowing.loss).toMatch(/ %$/);
  // Still growing: the call is live, not a burst.
  await until(tab, "more inbound audio", (v) => v.packetsIn >= flowing.packetsIn + 25);
  return flowing;
}

describe.skipIf(noChromium && noFirefox)("demo page through the whole stack", () => {
  it("is served by the edge at / and /demo, self-contained, minting keys with the dev key on a dev edge", async () => {
    for (const path of ["/", "/demo"]) {
      const res = await fetch(edgeUrl + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-store");
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("connect-src 'self'");
      const html = await res.text();
      expect(html).toContain('data-mode="dev"');
      expect(html).toContain(DEV_KEY);
      // Nothing external: no http(s) URLs to fetch from.
      expect(html).not.toMatch(/(src|href)="https?:/);
    }
  });

  const browsers = [
    { name: "Chromium", which: "chromium", missing: noChromium, path: "/", phoneShot: true },
    { name: "Firefox ESR", which: "firefox", missing: noFirefox, path: "/demo", phoneShot: false },
  ] as const;
  for (const b of browsers)
    it.skipIf(b.missing)(`${b.name} calls through region A (nearest) and hangs up`, async () => {
      const tab = await openDemo(b.which, b.path);
      try {
        await callAndCheck(tab, { cluster: A.cluster, region: A.name, attempts: 1 });
        expect(await sessionsOf(0)).toBe(1);
        await tab.screenshot(join(ARTIFACTS, `demo-${b.which}.png`));
        if (b.phoneShot) {
          await tab.resize(390, 844);
          await tab.screenshot(join(ARTIFACTS, `demo-${b.which}-phone.png`));
        }
        await tab.click("#call");
        await until(tab, "ended", (v) => v.state === "ended");
        // The page's hangup went through the edge to the transceiver.
        await waitFor("region A's session to end", async () => (await sessionsOf(0)) === 0);
      } finally {
        await tab.close();
      }
    });

  it.skipIf(noChromium)(
    "with real API keys the page takes an ephemeral key, refuses a server key",
    async () => {
      // The same topology behind a second edge that has API_KEYS: the page must not mint keys itself.
      const keyed = await startLocalEdge({
        host: "127.0.0.1",
        port: await freePort(),
        config: edgeConfig(stack.topology),
        apiKeys: SERVER_KEY,
        transceiverToken: stack.token,
        probeEveryMs: 60_000,
        cf: stack.topology.edge.cf,
        log: createLogger("test"),
      });
      const tab = await openDemo("chromium", "/", keyed.url);
      try {
        const html = await (await fetch(`${keyed.url}/`)).text();
        expect(html).toContain('data-mode="key"');
        expect(html).not.toContain(DEV_KEY);
        expect(html).not.toContain(SERVER_KEY);
        await tab.fill("#key", SERVER_KEY);
        await tab.click("#call");
        const refused = await until(tab, "refusal", (v) => v.state === "failed");
        expect(refused.error).toContain("server API key");
        expect(refused.cluster).toBe("—");
        await tab.screenshot(join(ARTIFACTS, "demo-key-mode-chromium.png"));
        // What the app's server would do: mint an ephemeral key, hand it to the page.
        const minted = (await (
          await fetch(`${keyed.url}/v1/realtime/client_secrets`, {
            method: "POST",
            headers: { authorization: `Bearer ${SERVER_KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ session: { type: "realtime" } }),
          })
        ).json()) as { value: string };
        expect(minted.value).toMatch(/^ek_/);
        await tab.fill("#key", minted.value);
        await callAndCheck(tab, { cluster: A.cluster, region: A.name, attempts: 1 });
        await tab.click("#call");
        await until(tab, "ended", (v) => v.state === "ended");
      } finally {
        await tab.close();
        await keyed.close();
      }
    },
  );

  it.skipIf(noChromium || noFirefox)(
    "region A's transceiver host stops: new calls land in region B, a call up there is undisturbed",
    async () => {
      const firefoxTab = await openDemo("firefox");
      const chromiumTab = await openDemo("chromium");
      try {
        await stack.transceivers[0]!.close();
        // First call after the loss: A (nearest) refuses, the edge fails over to B and marks A suspect.
        // The media still enters at the ingress nearest the caller (A's relay), which routes by the hint.
        await callAndCheck(firefoxTab, { cluster: B.cluster, region: B.name, attempts: 2 });
        const health = (await (
          await fetch(`${edgeUrl}/v1/edge/health`, { headers: { authorization: `Bearer ${DEV_KEY}` } })
        ).json()) as { pools: Array<{ id: number; availability: string }> };
        expect(health.pools.find((p) => p.id === A.cluster)?.availability).toBe("suspect");
        // The next call goes to B first (A is suspect), while the call already in B keeps flowing.
        const before = await firefoxTab.read();
        await callAndCheck(chromiumTab, { cluster: B.cluster, region: B.name, attempts: 1 });
        const after = await until(
          firefoxTab,
          "the first B call still flowing",
          (v) => v.packetsIn >= before.packetsIn + 50,
        );
        expect(after.state).toBe("connected");
        expect(after.error).toBe("");
        expect(await sessionsOf(1)).toBe(2);
        await firefoxTab.screenshot(join(ARTIFACTS, "demo-failover-firefox.png"));
      } finally {
        await Promise.allSettled([firefoxTab.close(), chromiumTab.close()]);
      }
    },
  );
});
