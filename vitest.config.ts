import { defineConfig } from "vitest/config";

/**
 * The relay's tests run twice: once with its default I/O backend ("auto":
 * batched recvmmsg/sendmmsg when the native addon is built, which in CI it
 * must be: test/relay/udp-batch.test.ts fails there otherwise), and once more
 * with node:dgram (VOICE_EDGE_RELAY_IO, honoured by startRelay and inherited
 * by spawned relays).
 */
const RELAY_TESTS = [
  "test/relay/**/*.test.ts",
  "test/e2e/global-relay*.test.ts",
  "test/e2e/media-path.test.ts",
];

export default defineConfig({
  test: {
    // Media tests bind real sockets and spawn processes; keep them bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "default", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: { name: "relay-dgram", include: RELAY_TESTS, env: { VOICE_EDGE_RELAY_IO: "dgram" } },
      },
    ],
  },
});
