/**
 * The relay's flows, in memory: IPv4 clients by numeric key (no allocation
 * per lookup), IPv6 clients by string. Bounded in size; idle flows are removed
 * by sweep(), which the socket shell runs on a timer, never per packet.
 */
import type { Flow } from "./flow.ts";
import { v6Key } from "./flow.ts";

export class FlowTable {
  readonly maxFlows: number;
  private readonly v4 = new Map<number, Flow>();
  private readonly v6 = new Map<string, Flow>();

  constructor(maxFlows: number) {
    if (!Number.isInteger(maxFlows) || maxFlows < 1)
      throw new Error(`max flows ${maxFlows} is not a positive integer`);
    this.maxFlows = maxFlows;
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  get full(): boolean {
    return this.v4.size + this.v6.size >= this.maxFlows;
  }

  getV4(key: number): Flow | undefined {
    return this.v4.get(key);
  }

  getV6(address: string, port: number): Flow | undefined {
    return this.v6.get(v6Key(address, port));
  }

  /** The flow of a client: by its IPv4 key (clientKeyV4) when >= 0, else by address and port. */
  get(key: number, address: string, port: number): Flow | undefined {
    return key >= 0 ? this.v4.get(key) : this.v6.get(v6Key(address, port));
  }

  /** Adds a new flow; false when the table is full or the client already has one. */
  add(flow: Flow): boolean {
    if (this.full) return false;
    if (flow.key >= 0) {
      if (this.v4.has(flow.key)) return false;
      this.v4.set(flow.key, flow);
    } else {
      if (this.v6.has(flow.keyV6)) return false;
      this.v6.set(flow.keyV6, flow);
    }
    return true;
  }

  delete(flow: Flow): boolean {
    return flow.key >= 0 ? this.v4.delete(flow.key) : this.v6.delete(flow.keyV6);
  }

  /** Removes the flows idle for idleMs or longer; returns how many. */
  sweep(now: number, idleMs: number, onExpire?: (flow: Flow) => void): number {
    const cutoff = now - idleMs;
    let n = 0;
    for (const map of [this.v4, this.v6] as Map<unknown, Flow>[]) {
      for (const [k, flow] of map) {
        if (flow.lastSeen > cutoff) continue;
        map.delete(k);
        n++;
        onExpire?.(flow);
      }
    }
    return n;
  }

  *flows(): IterableIterator<Flow> {
    yield* this.v4.values();
    yield* this.v6.values();
  }
}
