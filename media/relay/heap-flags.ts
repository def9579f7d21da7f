/**
 * V8 heap settings for a forwarding process.
 *
 * node:dgram hands every datagram over as a fresh Buffer and address object,
 * so a relay allocates ~1 KB per round trip however lean its own code is.
 * With V8's default young generation (semi-spaces growing to 16 MB) a relay
 * at 25,000 round trips/s scavenges every ~0.4 s for 2–3 ms, and every packet
 * queued behind the pause sees it: p99 2–4 ms. With 1 MB semi-spaces it
 * scavenges every ~25 ms for ~0.3 ms: p99 ~0.4 ms, at the same CPU (almost
 * nothing survives a scavenge, so a small young generation costs no more).
 * Measured by bench/relay.ts (docs/relay.md, "Performance").
 */
import { execPath } from "node:process";
import { missingFlags } from "../runtime/v8-flags.ts";

export const RELAY_V8_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/**
 * Replaces this process (same pid, same arguments and environment) with one
 * that runs with the relay's V8 flags, unless they are set already. Call it
 * before opening anything: nothing survives the exec. Returns only when no
 * exec was needed or possible (process.execve is missing on Windows).
 */
export function execWithRelayFlags(): void {
  const missing = missingFlags(RELAY_V8_FLAGS);
  if (missing.length === 0 || typeof process.execve !== "function") return;
  process.execve(
    execPath,
    [execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    process.env,
  );
}
