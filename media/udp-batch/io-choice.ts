/**
 * Which UDP I/O a process runs on (its --io option): batch (the udp-batch
 * addon: recvmmsg/sendmmsg, Linux), dgram (node:dgram, portable), or auto
 * (batch when the addon loads, else dgram). The relay and the transceiver
 * choose the same way.
 */
import { loadUdpBatch } from "./batch-socket.ts";

export const IO_BACKENDS = ["dgram", "batch", "auto"] as const;
export type IoChoice = (typeof IO_BACKENDS)[number];
export type IoBackend = Exclude<IoChoice, "auto">;

/** Which backend a choice means here: "auto" is batch when the addon loads. Throws for "batch" without it. */
export function resolveIo(choice: IoChoice): { backend: IoBackend; note?: string } {
  if (choice === "dgram") return { backend: "dgram" };
  const native = loadUdpBatch();
  if (native instanceof Error) {
    if (choice === "batch") throw new Error(`--io batch: ${native.message}`);
    return { backend: "dgram", note: native.message };
  }
  return { backend: "batch" };
}

export function parseIoChoice(s: string | undefined): IoChoice {
  if (s === undefined || s === "") return "auto";
  if ((IO_BACKENDS as readonly string[]).includes(s)) return s as IoChoice;
  throw new Error(`UDP I/O backend "${s}": expected dgram, batch or auto`);
}
