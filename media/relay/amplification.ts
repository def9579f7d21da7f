/**
 * Anti-amplification budget of one flow: until the client has proved it
 * receives at its source address, the relay sends it no more bytes than it
 * received from it (docs/relay.md, "Verification").
 */
export class AmplificationBudget {
  verified = false;
  /** Payload bytes forwarded from the client while unverified. */
  received = 0;
  /** Payload bytes delivered to the client while unverified. */
  sent = 0;

  receive(bytes: number): void {
    if (!this.verified) this.received += bytes;
  }

  /** Books `bytes` toward the client; false (and nothing booked) if that would exceed what it sent. */
  spend(bytes: number): boolean {
    if (this.verified) return true;
    if (this.sent + bytes > this.received) return false;
    this.sent += bytes;
    return true;
  }

  verify(): void {
    this.verified = true;
  }
}
