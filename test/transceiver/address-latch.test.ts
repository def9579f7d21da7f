import { describe, expect, it } from "vitest";
import { AddressLatch } from "../../media/transceiver/address-latch.ts";

const flow = (address: string, port: number) => ({ addr: [address, port] as const });
const STUN = 0x01;
const DTLS = 22;

describe("address latch", () => {
  it("sends nothing before it has heard from the client", () => {
    const latch = new AddressLatch();
    expect(latch.target(DTLS, ["127.0.0.1", 5000])).toBeUndefined();
    expect(latch.target(STUN, ["127.0.0.1", 5000])).toBeUndefined();
  });

  it("answers STUN where the check came from, whatever DTLS is latched on", () => {
    const latch = new AddressLatch<ReturnType<typeof flow>>();
    const a = flow("10.0.0.1", 1000);
    const b = flow("10.0.0.2", 2000);
    latch.heard(a, false, false);
    latch.heard(b, true, false);
    expect(latch.target(STUN, ["10.0.0.2", 2000])).toBe(b);
    expect(latch.target(STUN, ["10.0.0.1", 1000])).toBe(a);
    expect(latch.target(DTLS, ["10.0.0.2", 2000])).toBe(a);
  });

  it("follows the latest nomination until DTLS/SRTP arrives, then the address that data comes from", () => {
    const latch = new AddressLatch<ReturnType<typeof flow>>();
    const a = flow("10.0.0.1", 1000);
    const b = flow("10.0.0.2", 2000);
    const c = flow("10.0.0.3", 3000);
    latch.heard(a, true, false);
    expect(latch.active).toBe(a);
    // A check without USE-CANDIDATE does not move it once latched ...
    latch.heard(b, true, false);
    expect(latch.active).toBe(a);
    // ... a nomination does (aggressive nomination, or the browser switching pairs).
    latch.heard(b, true, true);
    expect(latch.active).toBe(b);
    expect(latch.target(DTLS, ["10.0.0.1", 1000])).toBe(b);
    // DTLS from c: DTLS/SRTP go there, and later nominations no longer move it ...
    latch.heard(c, false, false);
    latch.heard(a, true, true);
    expect(latch.active).toBe(c);
    // ... but the client's own data from another address does.
    latch.heard(a, false, false);
    expect(latch.active).toBe(a);
  });

  it("with nothing latched yet sends DTLS where werift addresses it, if the client was heard there", () => {
    const latch = new AddressLatch<ReturnType<typeof flow>>();
    const a = flow("::1", 1000);
    latch.flows.add(a);
    expect(latch.target(DTLS, ["::1", 1000])).toBe(a);
    expect(latch.target(DTLS, ["::1", 1001])).toBeUndefined();
  });
});
