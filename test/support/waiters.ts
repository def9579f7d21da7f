/**
 * Conditions a test waits on, each with a deadline: checked at once, and again
 * whenever `wake()` says something arrived (an event, audio, an error).
 */
export class Waiters {
  private readonly pending = new Set<() => void>();

  /** Checks every waiting condition again. */
  wake(): void {
    for (const w of [...this.pending]) w();
  }

  /** Resolves with what `find` finds (anything but undefined); after `ms`, rejects with `timedOut()`. */
  until<T>(find: () => T | undefined, ms: number, timedOut: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const hit = find();
      if (hit !== undefined) return resolve(hit);
      const timer = setTimeout(() => {
        this.pending.delete(check);
        reject(new Error(timedOut()));
      }, ms);
      const check = () => {
        const r = find();
        if (r === undefined) return;
        clearTimeout(timer);
        this.pending.delete(check);
        resolve(r);
      };
      this.pending.add(check);
    });
  }
}
