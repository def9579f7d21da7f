/**
 * The impairer's one queue of datagrams waiting to leave (sans-IO): a binary
 * min-heap by departure time, first in first out among equal times. The
 * shell keeps one timer armed at `nextAt()` and sends what `due(now)` yields.
 */
interface Entry<T> {
  at: number;
  seq: number;
  item: T;
}

export class Schedule<T> {
  private readonly heap: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Departure time of the earliest entry, or undefined when empty. */
  nextAt(): number | undefined {
    return this.heap[0]?.at;
  }

  push(at: number, item: T): void {
    const h = this.heap;
    h.push({ at, item, seq: this.seq++ });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  /** Removes and returns the earliest entry if it is due at `now`. */
  popDue(now: number): T | undefined {
    const h = this.heap;
    const top = h[0];
    if (!top || top.at > now) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top.item;
  }

  clear(): void {
    this.heap.length = 0;
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}
