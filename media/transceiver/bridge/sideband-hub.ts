/**
 * The sidebands of one call, sans-IO: the app's server attached to the call
 * over a WebSocket (the edge's `GET /v1/realtime?call_id=…`), next to the
 * client's `oai-events` data channel. Decides who may attach, who gets which
 * server event, and when sidebands close; the sink does the IO.
 *
 * - At most MAX_SIDEBANDS at once; one more is refused (never replacing one
 *   that is attached: a second controller must not silently cut off the first).
 * - A sideband first gets the session as it is now (session.created, or Live's
 *   session.started), then every server event the data channel gets.
 * - A sideband leaving never ends the call; the call ending closes every
 *   sideband after the final events, with closeFor(reason)'s code.
 */
import type { CloseReason } from "../close-reason.ts";
import { closeFor } from "./lifecycle.ts";

/** Sidebands a call may have at once (a tool runner, a guardrail, a monitor, one spare for a reconnect). */
export const MAX_SIDEBANDS = 4;

/** Where the hub's decisions go: the worker's IPC to the host, or the host itself. */
export interface SidebandSink {
  send(sideband: number, text: string): void;
  close(sideband: number, code: number, reason: string): void;
}

export type AttachOutcome = "attached" | "full" | "ended";

export class SidebandHub {
  private readonly sink: SidebandSink;
  private readonly limit: number;
  /** Attached sidebands in attach order (an array: fan-out loops without allocating). */
  private readonly ids: number[] = [];
  private ended = false;

  constructor(sink: SidebandSink, limit = MAX_SIDEBANDS) {
    this.sink = sink;
    this.limit = limit;
  }

  get size(): number {
    return this.ids.length;
  }

  has(sideband: number): boolean {
    return this.ids.includes(sideband);
  }

  /** A sideband wants to attach; on success it gets `greeting` before anything else. */
  attach(sideband: number, greeting: string): AttachOutcome {
    if (this.ended) return "ended";
    if (this.has(sideband)) return "attached";
    if (this.ids.length >= this.limit) return "full";
    this.ids.push(sideband);
    this.sink.send(sideband, greeting);
    return "attached";
  }

  /** The sideband's socket went away: forget it (the call goes on). */
  detach(sideband: number): boolean {
    const i = this.ids.indexOf(sideband);
    if (i < 0) return false;
    this.ids.splice(i, 1);
    return true;
  }

  /** A server event for everyone attached. */
  fanOut(text: string): void {
    for (let i = 0; i < this.ids.length; i++) this.sink.send(this.ids[i]!, text);
  }

  /** A server event for one sideband (an error answering its own client event). */
  reply(sideband: number, text: string): void {
    if (this.has(sideband)) this.sink.send(sideband, text);
  }

  /** The call is over: close every sideband (the final events were fanned out before); no new ones. */
  end(reason: CloseReason): void {
    if (this.ended) return;
    this.ended = true;
    const { code } = closeFor(reason);
    const why = `call ended: ${reason}`;
    for (const id of this.ids) this.sink.close(id, code, why);
    this.ids.length = 0;
  }
}
