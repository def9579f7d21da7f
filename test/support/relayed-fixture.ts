import { afterAll, beforeAll } from "vitest";
import { type RelayedTransceiver, startRelayedTransceiver } from "./stack.ts";

/**
 * A relay and a transceiver host for the tests of one file: started before
 * them, stopped after them (after the file's own afterAll hooks, which vitest
 * runs first). The fields are there once the tests run.
 */
export function relayedTransceiverForFile(
  cluster: number,
  o: Parameters<typeof startRelayedTransceiver>[1] = {},
): RelayedTransceiver {
  const fixture = {} as RelayedTransceiver;
  beforeAll(async () => {
    Object.assign(fixture, await startRelayedTransceiver(cluster, o));
  });
  afterAll(async () => {
    await fixture.close?.();
  });
  return fixture;
}
