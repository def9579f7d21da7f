/**
 * Which client address a session sends to, and when it moves (sans-IO).
 *
 * STUN answers go back where their check came from. DTLS and SRTP latch onto
 * the address the client's own DTLS/SRTP comes from; before any, onto its
 * latest nomination (USE-CANDIDATE). Clients with aggressive nomination flag
 * every check and browsers may switch pairs later, while werift under
 * ice-lite would keep its first nominated pair (docs/werift.md).
 */
import type { Addr } from "./peer.ts";

export interface LatchFlow {
  readonly addr: Addr;
}

export class AddressLatch<F extends LatchFlow> {
  /** Every client address heard from. */
  readonly flows = new Set<F>();
  /** Where DTLS and SRTP go. */
  active: F | undefined;
  private dataSeen = false;

  /** A datagram from the client on `flow`: STUN (a check, nominating or not) or DTLS/SRTP. */
  heard(flow: F, isStun: boolean, nominate: boolean): void {
    if (!this.flows.has(flow)) this.flows.add(flow);
    if (!isStun) {
      this.dataSeen = true;
      this.active = flow;
    } else if (!this.active || (nominate && !this.dataSeen)) this.active = flow;
  }

  /** Where a datagram werift sends to `addr` goes (its first byte tells STUN, 0..3, from the rest). */
  target(firstByte: number, addr: Addr): F | undefined {
    if (firstByte >= 4 && this.active) return this.active;
    for (const f of this.flows) if (f.addr[1] === addr[1] && f.addr[0] === addr[0]) return f;
    return undefined;
  }
}
