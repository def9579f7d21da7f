/**
 * The whole-stack upstream tests' setup, whatever the upstream's protocol: a
 * mock upstream, and `voice-edge stack` with one region whose "backend" is
 * the mock, its key in an environment variable the backend URL names
 * (key_env, never the client's); started before the file's tests, stopped
 * after them (after the file's own afterAll hooks).
 */
import { afterAll, beforeAll } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import type { MockServer, UpstreamCall } from "./mock-upstream.ts";
import { startOneRegionStack } from "./one-region-stack.ts";
import { type VoiceClient, voiceClients } from "./voice-client.ts";

export const DEV_KEY = "sk-voice-edge-dev-key";

export interface UpstreamStack<M> {
  stack: RunningStack;
  mock: M;
  /** A voice client closed after the tests. */
  client(): VoiceClient;
}

export function upstreamStackForFile<C extends UpstreamCall, M extends MockServer<C>>(o: {
  cluster: number;
  workers: number;
  startMock: () => Promise<M>;
  /** The topology's "backend" URL for the mock's port. */
  backend: (port: number) => string;
  upstreamKey: { env: string; key: string };
}): UpstreamStack<M> {
  const clients = voiceClients();
  const fixture = {
    client: clients.create,
  } as UpstreamStack<M>;
  beforeAll(async () => {
    fixture.mock = await o.startMock();
    fixture.stack = await startOneRegionStack({
      cluster: o.cluster,
      workers: o.workers,
      backend: o.backend(fixture.mock.port),
      upstreamKey: o.upstreamKey,
    });
  }, 60_000);
  afterAll(async () => {
    await clients.close();
    await fixture.stack?.close();
    await fixture.mock?.close();
    delete process.env[o.upstreamKey.env];
  });
  return fixture;
}
