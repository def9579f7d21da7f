/**
 * The bridge's backend lifecycle, sans-IO: connect, reconnect with backoff,
 * stall, the clean end, and the close code the backend gets. Every input is a
 * method call with the time; every output is an action the bridge performs
 * (it owns the sockets, timers and the data channel).
 */

export type BridgeState = "connecting" | "open" | "reconnecting" | "ending" | "closed";

/** WebSocket close codes the bridge sends its backend (RFC 6455; docs/backend-protocol.md). */
export const CLOSE = { normal: 1000, goingAway: 1001, protocolError: 1002, internal: 1011 } as const;

/**
 * Why the backend link failed for good: the `error.code` the client gets (an `error` event, or for
 * backend_unavailable the HTTP error of session creation), counted in /metrics.
 */
export type FailureCode =
  | "backend_unavailable"
  | "backend_disconnected"
  | "backend_stalled"
  | "backend_protocol_error";

export type LifecycleAction =
  /** Open a new backend link (a reconnect: `resumed`). */
  | { kind: "dial" }
  /** Call retry() after this long. */
  | { kind: "retryIn"; ms: number }
  /** Close the current backend link now with this code and reason. */
  | { kind: "closeLink"; code: number; reason: string }
  /** Close the link that has just opened instead of using it (the session went meanwhile). */
  | { kind: "discardLink"; code: number; reason: string }
  /** Send the client an `error` event (server_error). */
  | { kind: "clientError"; code: FailureCode; message: string }
  /** Drop queued output audio (no events: the session is ending). */
  | { kind: "stopPlayout" }
  /** Close the oai-events channel (the client sees the end). */
  | { kind: "closeChannel" }
  /** End the session with this close reason. */
  | { kind: "endSession"; reason: "ended" | "backend" };

export interface LifecycleOptions {
  /** Reconnect attempts after a live link drops (0: end the session). */
  reconnect: number;
  /** A backend that has not read its audio for this long has failed. */
  stallTimeoutMs: number;
  /** How long an ending session waits for its last events to leave the data channel. */
  endFlushMs?: number;
}

/** The oai-events channel as the end of a session needs to see it. */
export interface ChannelView {
  state: "connecting" | "open" | "closing" | "closed";
  bufferedAmount: number;
}

/** Backoff before reconnect attempt n (1-based): 100 ms doubling, at most 2 s. */
export const backoffMs = (attempt: number): number => Math.min(2000, 100 * 2 ** (attempt - 1));

/**
 * The close code and reason for a backend whose session ended for `reason`
 * (the session's close reason): 1001 when the transceiver is stopping, else 1000.
 */
export function closeFor(reason: string): { code: number; reason: string } {
  return { code: reason === "shutdown" ? CLOSE.goingAway : CLOSE.normal, reason };
}

export class BridgeLifecycle {
  state: BridgeState = "connecting";
  /** Reconnect attempts made. */
  reconnects = 0;
  /** Why the link failed for good, if it did. */
  failure: FailureCode | undefined;
  private readonly o: LifecycleOptions;
  private endAt = 0;
  private endReason: "ended" | "backend" = "backend";
  /** What the last lost link said (for the final error message). */
  private why = "";
  private whyCode: FailureCode = "backend_disconnected";
  /** The session's close reason, once it is closed. */
  private closedFor: string | undefined;

  constructor(o: LifecycleOptions) {
    this.o = o;
  }

  /** Whether audio and events may go to the backend. */
  get linked(): boolean {
    return this.state === "open";
  }

  /** A link opened (the first one, or a reconnect). */
  linkUp(): LifecycleAction[] {
    if (this.state === "connecting" || this.state === "reconnecting") {
      this.state = "open";
      return [];
    }
    return [{ kind: "discardLink", ...closeFor(this.closedFor ?? "ended") }];
  }

  /**
   * The live link is gone: the backend closed it (`code`), the connection dropped, or the
   * link saw a fault (`failure`). A close with 1000 and no failure ends the call cleanly.
   */
  linkLost(now: number, code: number, reason: string, failure?: FailureCode): LifecycleAction[] {
    if (this.state !== "open") return [];
    if (code === CLOSE.normal && failure === undefined) return this.finish(now, "ended");
    this.why = reason ? `${reason} (${code})` : `code ${code}`;
    this.whyCode = failure ?? "backend_disconnected";
    // A backend that broke the protocol would break it again; dialling it anew only loses the conversation.
    if (this.reconnects < this.o.reconnect && failure !== "backend_protocol_error") {
      this.state = "reconnecting";
      return this.nextAttempt();
    }
    return this.fail(now, `the voice backend connection was lost: ${this.why}`);
  }

  /** Checked every tick: a backend that has not read its audio since `stalledSince` (0: it reads). */
  checkStall(now: number, stalledSince: number): LifecycleAction[] {
    if (this.state !== "open" || stalledSince <= 0 || now - stalledSince <= this.o.stallTimeoutMs) return [];
    const why = `the backend has not read its audio for ${this.o.stallTimeoutMs} ms`;
    return [
      { kind: "closeLink", code: CLOSE.internal, reason: "stalled" },
      ...this.linkLost(now, 0, why, "backend_stalled"),
    ];
  }

  /** The first link could not be opened: the session is not created (HTTP 503 backend_unavailable). */
  connectFailed(): void {
    if (this.state !== "connecting") return;
    this.state = "closed";
    this.failure = "backend_unavailable";
  }

  /** The backoff after a lost link is over. */
  retry(): LifecycleAction[] {
    return this.state === "reconnecting" ? [{ kind: "dial" }] : [];
  }

  /** A reconnect attempt could not open a link. */
  dialFailed(now: number): LifecycleAction[] {
    if (this.state !== "reconnecting") return [];
    if (this.reconnects < this.o.reconnect) return this.nextAttempt();
    return this.fail(
      now,
      `the voice backend connection was lost (${this.why}) and ${this.reconnects} reconnect attempts failed`,
    );
  }

  /**
   * Checked every tick while ending: the last events leave the data channel, then the
   * channel is closed, then the session ends (at the latest endFlushMs after it began).
   */
  tick(now: number, channel: ChannelView | undefined): LifecycleAction[] {
    if (this.state !== "ending") return [];
    const late = now > this.endAt;
    const out: LifecycleAction[] = [];
    if (channel?.state === "open") {
      if (channel.bufferedAmount > 0 && !late) return out;
      out.push({ kind: "closeChannel" });
    } else if (channel?.state === "closing" && !late) return out;
    this.state = "closed";
    out.push({ kind: "endSession", reason: this.endReason });
    return out;
  }

  /** The session is over, for whatever reason: the backend hears it at once. */
  close(reason: string): LifecycleAction[] {
    this.state = "closed";
    this.closedFor = reason;
    return [{ kind: "closeLink", ...closeFor(reason) }];
  }

  private nextAttempt(): LifecycleAction[] {
    const attempt = ++this.reconnects;
    return [{ kind: "retryIn", ms: backoffMs(attempt) }];
  }

  private fail(now: number, message: string): LifecycleAction[] {
    this.failure = this.whyCode;
    return [{ kind: "clientError", code: this.whyCode, message }, ...this.finish(now, "backend")];
  }

  private finish(now: number, reason: "ended" | "backend"): LifecycleAction[] {
    this.state = "ending";
    this.endReason = reason;
    this.endAt = now + (this.o.endFlushMs ?? 1000);
    return [{ kind: "stopPlayout" }];
  }
}
