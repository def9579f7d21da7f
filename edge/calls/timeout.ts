/**
 * Runs an async step under an abort deadline, reporting whether it timed out
 * or failed otherwise (connection refused, reset, …). Everything the step
 * does with the signal, including reading a body, is covered.
 */
export type Timed<T> = { ok: true; value: T } | { ok: false; timedOut: boolean; error: string };

export async function withTimeout<T>(
  ms: number,
  step: (signal: AbortSignal) => Promise<T>,
): Promise<Timed<T>> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort(new Error("timeout"));
    },
    Math.max(1, ms),
  );
  try {
    return { ok: true, value: await step(controller.signal) };
  } catch (e) {
    return { ok: false, timedOut, error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}
