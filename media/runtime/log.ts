/** JSON logs (pino) for every media service; never per packet. */
import { pino } from "pino";

export type Logger = pino.Logger;

export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.VOICE_EDGE_LOG_LEVEL ?? (process.env.VITEST ? "silent" : "info"),
    base: { service, pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
