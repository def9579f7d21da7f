/**
 * Writes the shared flow records, never on the packet path:
 *
 *   - a flow opened, re-pointed or verified is marked (Steering calls mark())
 *     and written on the next turn of the event loop, in one batch;
 *   - the sweep timer rewrites the records of flows active since their last
 *     write once they are older than half the TTL (and those whose write
 *     failed or was skipped, and recovered ones, whose record age is unknown);
 *   - when Redis comes back after an outage (it may have lost everything),
 *     every flow is rewritten, a batch per turn.
 */
import type { Flow } from "./flow.ts";
import type { FlowRecords } from "./flow-store.ts";
import type { FlowTable } from "./flow-table.ts";
import type { FlowChanges } from "./steering.ts";

const RESYNC_BATCH = 2000;

export class FlowRecorder implements FlowChanges {
  private readonly records: FlowRecords;
  private readonly table: FlowTable;
  private readonly dirty = new Set<Flow>();
  private scheduled = false;
  private resyncing = false;

  constructor(records: FlowRecords, table: FlowTable) {
    this.records = records;
    this.table = table;
  }

  mark(flow: Flow): void {
    this.dirty.add(flow);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  forget(flow: Flow): void {
    this.dirty.delete(flow);
    this.records.forget(flow);
  }

  /** Writes the marked flows still in the table. */
  flush(): void {
    this.scheduled = false;
    const now = Date.now();
    for (const flow of this.dirty) if (this.isLive(flow)) this.records.write(flow, now);
    this.dirty.clear();
  }

  /** Run by the sweep timer: rewrites what is due. */
  refresh(now: number): void {
    const half = this.records.ttlMs / 2;
    for (const flow of this.table.flows()) {
      if (flow.lastSeen <= flow.recordedAt) continue; // idle since written: let it expire
      if (flow.recordedAt === 0 || now - flow.recordedAt >= half) this.records.write(flow, now);
    }
  }

  /** After an outage: every flow's record again, a batch per turn of the event loop. */
  resync(): void {
    if (this.resyncing) return;
    this.resyncing = true;
    const it = this.table.flows();
    const step = () => {
      const now = Date.now();
      for (let i = 0; i < RESYNC_BATCH; i++) {
        const r = it.next();
        if (r.done) {
          this.resyncing = false;
          return;
        }
        this.records.write(r.value, now);
      }
      setImmediate(step);
    };
    step();
  }

  private isLive(flow: Flow): boolean {
    return this.table.get(flow.key, flow.address, flow.port) === flow;
  }
}
