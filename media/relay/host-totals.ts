/**
 * A relay host's counters across its worker processes: the live workers'
 * snapshots plus what the dead ones had counted, never reported lower than
 * before (a scrape must not see a counter go back when a worker dies).
 */
import { addCounters, maxCounters, type RelaySnapshot, sumSnapshots } from "./metrics.ts";

export class HostTotals {
  /** Counters of workers that died (their last snapshot), so host totals survive restarts. */
  private retired: RelaySnapshot | undefined;
  /** The totals reported last. */
  private reported: RelaySnapshot | undefined;

  /** A worker died: keep what it counted; its flows are gone. */
  retire(last: RelaySnapshot): void {
    this.retired ??= sumSnapshots([], last);
    addCounters(this.retired, last);
    this.retired.flows = 0;
    this.retired.tcpConnections = 0;
  }

  /** Totals over the live workers' snapshots and the retired counters. */
  total(live: RelaySnapshot[]): RelaySnapshot {
    const template = live[0] ?? this.retired ?? this.reported!;
    const total = sumSnapshots(this.retired ? [this.retired, ...live] : live, template);
    if (this.reported) maxCounters(total, this.reported);
    this.reported = structuredClone(total);
    return total;
  }

  /** Totals over the workers' final snapshots at shutdown; undefined if none ever reported. */
  final(finals: RelaySnapshot[]): RelaySnapshot | undefined {
    const template = finals[0] ?? this.retired ?? this.reported;
    return template ? sumSnapshots(this.retired ? [this.retired, ...finals] : finals, template) : undefined;
  }
}
