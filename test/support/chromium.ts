/**
 * Headless Debian Chromium driven by playwright-core (never a downloaded
 * browser). In CI a missing browser fails the run; elsewhere tests skip with
 * a loud reason.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { installPageHelpers } from "./chromium-page.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const why = `Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium)`;
  if (process.env.CI) throw new Error(`${why}: required in CI`);
  console.warn(`\n!!! SKIPPING browser tests: ${why}\n`);
  return why;
}

/** A fresh profile each time (playwright wants it as userDataDir, not as a flag). */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "voice-edge-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
    ],
  });
  await context.addInitScript(installPageHelpers);
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh Chromium's new tab for `use`; the browser is closed however `use` ends. */
export async function withChromiumTab<T>(use: (tab: Page) => Promise<T>): Promise<T> {
  const browser = await launchChromium();
  try {
    return await use(await browser.context.newPage());
  } finally {
    await browser.close();
  }
}
