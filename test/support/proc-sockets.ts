/** UDP sockets a process owns, from /proc (Linux): proves "one socket per worker". */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export function udpSocketsOf(pid: number): { local: string }[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // fd closed while we looked
    }
  }
  const out: { local: string }[] = [];
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9]!)) out.push({ local: cols[1]! });
    }
  }
  return out;
}
