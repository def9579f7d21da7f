/** The output of a voice-edge process a test spawned, and the wait for its "ready" log line. */
import type { ChildProcess } from "node:child_process";

export interface LoggedChild {
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Its exit code, once it has exited. */
  exited: Promise<number | null>;
  /** The (JSON) log line whose message it was waited for. */
  line: string;
}

/**
 * Collects `child`'s output and resolves once it logs `message` (e.g. "relay
 * listening"); rejects, with what it printed, if it exits first.
 */
export async function untilLogged(child: ChildProcess, what: string, message: string): Promise<LoggedChild> {
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const marker = `"${message}"`;
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes(marker)) {
        child.stdout!.off("data", check);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => reject(new Error(`${what} exited (${code}) before "${message}":\n${out}`)));
  });
  return { output: () => out, exited, line: out.split("\n").find((l) => l.includes(marker))! };
}
