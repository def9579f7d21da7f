/**
 * A session's recent STUN checks by transaction id (sans-IO). A check that
 * comes again from another client address is a replay by someone who saw it
 * (its MESSAGE-INTEGRITY is valid, so it would bind the sender's address to
 * the session), never a NAT rebinding, which sends new checks. A
 * retransmission comes from the same address and passes. Bounded: the last
 * `size` checks of the session.
 */
export class CheckReplay {
  private readonly from = new Map<string, number | string>();
  private readonly order: string[] = [];
  private readonly size: number;

  constructor(size = 128) {
    this.size = size;
  }

  /** True if transaction id `txid` was seen from another client than `client`; else notes it. */
  replayed(txid: string, client: number | string): boolean {
    const seen = this.from.get(txid);
    if (seen !== undefined) return seen !== client;
    this.from.set(txid, client);
    this.order.push(txid);
    if (this.order.length > this.size) this.from.delete(this.order.shift()!);
    return false;
  }
}
