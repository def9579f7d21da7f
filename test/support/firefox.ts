/**
 * Headless Debian Firefox ESR driven by puppeteer-core over WebDriver BiDi (never a downloaded
 * browser). Fake microphone, no permission prompts, and nothing that reaches the network on its own
 * (telemetry, updates, captive portal, safe browsing, remote settings). In CI a missing browser fails
 * the run; elsewhere tests skip with a loud reason.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";

export function firefoxMissing(): string | undefined {
  if (existsSync(FIREFOX_PATH)) return undefined;
  const why = `Firefox ESR not found at ${FIREFOX_PATH} (apt-get install -y firefox-esr)`;
  if (process.env.CI) throw new Error(`${why}: required in CI`);
  console.warn(`\n!!! SKIPPING Firefox tests: ${why}\n`);
  return why;
}

/** On top of puppeteer's own test profile (which already disables much of the same). */
export const FIREFOX_PREFS: Record<string, unknown> = {
  // WebRTC: fake devices, no prompts.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.autoplay.default": 0,
  "media.autoplay.block-webaudio": false,
  // No sound card here: a mock audio backend, so AudioContext runs (the page's level meters).
  "media.cubeb.force_mock_context": true,
  // Loopback host candidates (the tests' relays are on 127.0.0.1, and Firefox pairs a loopback remote
  // candidate only with a loopback local one). Firefox gathers all interfaces, not just the default
  // route's, only for a page allowed to capture: without a stored grant (a prompt's "remember"), that
  // is the default permission.
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.default_address_only": false,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "permissions.default.microphone": 1,
  // Nothing phones home.
  "toolkit.telemetry.enabled": false,
  "toolkit.telemetry.unified": false,
  "toolkit.telemetry.archive.enabled": false,
  "toolkit.telemetry.server": "",
  "datareporting.policy.dataSubmissionEnabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "app.update.enabled": false,
  "app.update.auto": false,
  "app.update.url": "",
  "app.normandy.enabled": false,
  "app.shield.optoutstudies.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.dns.disablePrefetch": true,
  "network.prefetch-next": false,
  "network.predictor.enabled": false,
  "network.http.speculative-parallel-limit": 0,
  "network.trr.mode": 5,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "browser.safebrowsing.downloads.remote.enabled": false,
  "browser.safebrowsing.provider.google4.updateURL": "",
  "browser.safebrowsing.provider.google.updateURL": "",
  "browser.safebrowsing.provider.mozilla.updateURL": "",
  "browser.region.network.url": "",
  "browser.region.update.enabled": false,
  "browser.search.geoip.url": "",
  "browser.newtabpage.activity-stream.feeds.telemetry": false,
  "browser.newtabpage.activity-stream.telemetry": false,
  "browser.ping-centre.telemetry": false,
  "browser.discovery.enabled": false,
  "extensions.blocklist.enabled": false,
  "extensions.getAddons.cache.enabled": false,
  "extensions.systemAddon.update.enabled": false,
  "dom.push.enabled": false,
  "dom.push.connection.enabled": false,
  "geo.enabled": false,
  "media.gmp-gmpopenh264.enabled": false,
  "media.gmp-manager.url": "",
  "services.sync.enabled": false,
  "identity.fxaccounts.enabled": false,
  "security.OCSP.enabled": 0,
  "security.remote_settings.crlite_filters.enabled": false,
  "messaging-system.rsexperimentloader.enabled": false,
  "network.cookie.cookieBehavior": 0,
};

/** A fresh profile each time, removed on close. */
export async function launchFirefox(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "voice-edge-firefox-"));
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX_PATH,
    headless: true,
    protocol: "webDriverBiDi",
    userDataDir: dir,
    extraPrefsFirefox: FIREFOX_PREFS,
    // MOZ_* keep the crash reporter and the remote-settings sync quiet.
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: "1", MOZ_DISABLE_AUTO_SAFE_MODE: "1" },
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 30_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
