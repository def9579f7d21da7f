/**
 * The worker-level upstream tests' setup, whatever the upstream's protocol:
 * a relay, a mock upstream, and a session host in bridge mode that sends
 * `model` there with the key from its environment; started before the file's
 * tests, stopped after them (after the file's own afterAll hooks).
 */
import { afterAll, beforeAll } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import type { MockServer, UpstreamCall } from "./mock-upstream.ts";
import { startTestHost, startTestRelay } from "./stack.ts";
import { type Json, type VoiceClient, voiceClients } from "./voice-client.ts";

export const UPSTREAM_KEY = "sk-test-not-a-real-key";

export interface UpstreamWorker<C extends UpstreamCall, M extends MockServer<C>> {
  relay: Relay;
  worker: SessionHost;
  mock: M;
  /** A voice client closed after the tests. */
  client(): VoiceClient;
  /** A connected call on `host` (the worker by default), once the client has its `greeting` event. */
  call(session: Json | undefined, host?: SessionHost): Promise<{ vc: VoiceClient; id: string; up: C }>;
}

export function upstreamWorkerForFile<C extends UpstreamCall, M extends MockServer<C>>(o: {
  cluster: number;
  startMock: () => Promise<M>;
  /** The backends map's key the mock serves. */
  model: string;
  greeting: string;
}): UpstreamWorker<C, M> {
  const clients = voiceClients();
  const fixture = {
    client: clients.create,
    async call(session: Json | undefined, host = fixture.worker) {
      const vc = fixture.client();
      const upstream = fixture.mock.next();
      const created = await host.createSession({ sdp: await vc.offer(), session });
      const up = await upstream;
      await vc.answer(created.sdp);
      await vc.ready();
      await vc.waitEvent(o.greeting);
      return { vc, id: created.id, up };
    },
  } as UpstreamWorker<C, M>;
  beforeAll(async () => {
    fixture.relay = await startTestRelay(o.cluster);
    fixture.mock = await o.startMock();
    fixture.worker = await startTestHost(fixture.relay, {
      cluster: o.cluster,
      bridge: {
        backends: { [o.model]: fixture.mock.url },
        reconnect: 0,
        connectTimeoutMs: 1000,
        env: { OPENAI_API_KEY: UPSTREAM_KEY },
      },
    });
  });
  afterAll(async () => {
    await clients.close();
    await fixture.worker?.close();
    await fixture.mock?.close();
    await fixture.relay?.close();
  });
  return fixture;
}
