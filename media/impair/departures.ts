/**
 * The impairer's departure shell, shared by its UDP and TCP modes: one
 * `Schedule` of what waits to leave and one timer armed at its earliest
 * departure. What is due with nothing queued ahead of it leaves at once.
 */
import { performance } from "node:perf_hooks";
import { Schedule } from "./schedule.ts";

export class Departures<T> {
  private readonly schedule = new Schedule<T>();
  private readonly send: (item: T) => void;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(send: (item: T) => void) {
    this.send = send;
  }

  /** `item` leaves at `at` (ms, performance.now()); `now` is the caller's clock reading. */
  put(now: number, at: number, item: T): void {
    if (at <= now && this.schedule.size === 0) {
      this.send(item);
      return;
    }
    this.schedule.push(at, item);
    this.arm();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.schedule.clear();
  }

  private readonly flush = () => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    // Half a millisecond early rather than a whole timer turn late.
    const due = performance.now() + 0.5;
    for (let item = this.schedule.popDue(due); item !== undefined; item = this.schedule.popDue(due))
      this.send(item);
    this.arm();
  };

  private arm(): void {
    const at = this.schedule.nextAt();
    if (at === undefined || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.flush, Math.max(0, at - performance.now()));
  }
}
