/**
 * The demo page's HTML (see page.ts for the route): a one-page WebRTC client for the Realtime-compatible
 * API, with its CSS and script inline and nothing external. In dev mode (VOICE_EDGE_ENV=dev with the
 * built-in dev API key) the page mints ephemeral keys itself; everywhere else it asks for an ek_ key
 * and never sees a server key. See docs/demo.md.
 */
import { DEV_API_KEY } from "../config/defaults.ts";
import { DEMO_JS } from "./client.ts";
import { DEMO_CSS } from "./style.ts";

export interface DemoConfig {
  /** "dev": mint keys with the well-known dev API key; "key": the user pastes an ephemeral key. */
  mode: "dev" | "key";
  devKey?: string;
}

export function demoConfig(env: { VOICE_EDGE_ENV?: string; API_KEYS?: string }): DemoConfig {
  // Only the well-known dev key, and only on a dev edge (which answers loopback hosts alone): a key from
  // API_KEYS is a real secret even in dev, so then the page asks for an ephemeral key like in production.
  return env.VOICE_EDGE_ENV === "dev" && !env.API_KEYS?.trim()
    ? { mode: "dev", devKey: DEV_API_KEY }
    : { mode: "key" };
}

/** JSON inside <script type="application/json">: `<` escaped so no `</script>` can end it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

const PHONE_ICON =
  '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"/></svg>';
const WAVE_ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="#06121f" stroke-width="2.4" stroke-linecap="round" aria-hidden="true"><path d="M3 12h2M7 8v8M11 5v14M15 8v8M19 11v2"/></svg>';

export function renderDemoPage(config: DemoConfig, nonce: string): string {
  const modeBadge =
    config.mode === "dev"
      ? '<span class="badge dev" id="mode" data-mode="dev">dev mode · loopback only</span>'
      : '<span class="badge" id="mode" data-mode="key">ephemeral key</span>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="dark">
<meta name="theme-color" content="#0b1020">
<title>voice-edge demo</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${DEMO_CSS}</style>
</head>
<body>
<main>
  <header>
    <div class="brand">
      <div class="logo">${WAVE_ICON}</div>
      <div>
        <h1>voice-edge</h1>
        <p class="tagline">Realtime voice over WebRTC, through the edge, the Global Relay and a transceiver.</p>
      </div>
    </div>
    ${modeBadge}
  </header>

  <section class="hero" aria-label="Call">
    <button id="call" class="call-btn" type="button" aria-label="Start a call" title="Start a call">${PHONE_ICON}</button>
    <div class="status">
      <span id="state" class="pill" data-state="idle" role="status" aria-live="polite">Ready</span>
      <p id="hint" class="hint"></p>
      <div id="key-row" class="key-row" hidden>
        <label for="key">Ephemeral key</label>
        <input id="key" type="password" placeholder="ek_…" autocomplete="off" spellcheck="false" autocapitalize="off">
      </div>
      <p id="error" class="error" role="alert" hidden></p>
    </div>
  </section>

  <div class="grid">
    <section class="card route" aria-label="Route">
      <h2>Route</h2>
      <dl>
        <dt>Cluster</dt><dd id="cluster">—</dd>
        <dt>Region</dt><dd id="region">—</dd>
        <dt>Ingress</dt><dd id="ingress">—</dd>
        <dt>Ingress address</dt><dd id="ingress-address">—</dd>
        <dt>Clusters tried</dt><dd id="attempts">—</dd>
        <dt>Call</dt><dd id="call-id">—</dd>
        <dt>Click to media</dt><dd id="setup-ms">—</dd>
      </dl>
    </section>
    <section class="card network" aria-label="Network">
      <h2>Network</h2>
      <div class="big">
        <div class="metric"><b id="rtt">—</b><span>round trip</span></div>
        <div class="metric"><b id="jitter">—</b><span>jitter</span></div>
        <div class="metric"><b id="loss">—</b><span>loss</span></div>
      </div>
      <dl>
        <dt>Packets in</dt><dd id="packets-in" data-count="0">0</dd>
        <dt>Packets out</dt><dd id="packets-out" data-count="0">0</dd>
        <dt>Audio in</dt><dd id="bitrate">—</dd>
        <dt>Path</dt><dd id="candidate">—</dd>
      </dl>
    </section>
    <section class="card audio" aria-label="Audio">
      <h2>Audio</h2>
      <div class="meter-row">
        <div class="meter-label"><span>Microphone</span><b id="mic-level">—</b></div>
        <div id="mic-meter" class="meter mic" data-peak="0" data-level="0"><i></i></div>
      </div>
      <div class="meter-row">
        <div class="meter-label"><span>Output</span><b id="out-level">—</b></div>
        <div id="out-meter" class="meter out" data-peak="0" data-level="0"><i></i></div>
      </div>
      <audio id="remote-audio" autoplay playsinline></audio>
    </section>
  </div>

  <section class="card events" aria-label="Events">
    <div class="events-head">
      <h2>Events · oai-events</h2>
      <span class="counts">↓ <b id="events-in" data-count="0">0</b> · ↑ <b id="events-out" data-count="0">0</b></span>
      <button id="clear-log" class="link-btn" type="button">Clear</button>
    </div>
    <ol id="log" aria-live="off"></ol>
  </section>

  <footer>Standard browser WebRTC against <code>POST /v1/realtime/calls</code> (OpenAI Realtime API shape).</footer>
</main>
<script type="application/json" id="voice-edge-config">${scriptJson(config)}</script>
<script nonce="${nonce}">${DEMO_JS}</script>
</body>
</html>
`;
}
