/**
 * What a worker-level upstream test checks for every fault of an upstream
 * mid-call, whatever its protocol: the client's `error`, the channel's close,
 * the session gone, the failure counted, and a protocol fault closing the
 * upstream with 1002.
 */
import { expect } from "vitest";
import { BackendError } from "../../media/transceiver/bridge/backends.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import type { UpstreamCall } from "./mock-upstream.ts";
import type { VoiceClient } from "./voice-client.ts";

export async function expectMidCallFault<U extends UpstreamCall>(o: {
  host: SessionHost;
  code: string;
  call(): Promise<{ vc: VoiceClient; id: string; up: U }>;
  act(up: U): void;
  /** More to check once the error has come (from: the first event index after the fault). */
  afterError?(vc: VoiceClient, from: number): Promise<void>;
}): Promise<void> {
  const before = (await o.host.stats()).bridge!.backendFailures[o.code] ?? 0;
  const { vc, id, up } = await o.call();
  const from = vc.events.length;
  o.act(up);
  const err = await vc.waitEvent("error", { from });
  expect(err.event.error).toMatchObject({ type: "server_error", code: o.code });
  await o.afterError?.(vc, from);
  await vc.channelClosed();
  // The session ended in the same tick that closed the channel.
  expect((await o.host.list()).some((s) => s.id === id)).toBe(false);
  expect((await o.host.stats()).bridge!.backendFailures[o.code]).toBe(before + 1);
  if (o.code === "backend_protocol_error") expect((await up.closed).code).toBe(1002);
}

/** Session creation that must fail: its BackendError (503, naming `what`). */
export async function expectUnavailable(created: Promise<unknown>, what: string): Promise<BackendError> {
  const err = await created.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  expect((err as BackendError).status).toBe(503);
  expect((err as BackendError).code).toBe("backend_unavailable");
  expect((err as BackendError).message).toContain(what);
  return err as BackendError;
}
