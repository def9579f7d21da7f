import { describe, expect, it } from "vitest";
import { Flow } from "../../media/relay/flow.ts";
import { FlowTable } from "../../media/relay/flow-table.ts";
import { clientKeyV4, ENCAP_V6_LEN, encapKeyV4, keyV4 } from "../../media/wire/encap.ts";
import { encapKeys } from "../support/relay-fixtures.ts";

function flow(address: string, port: number, now = 0): Flow {
  return new Flow({
    address,
    port,
    key: clientKeyV4(address, port),
    cluster: 1,
    hop: { address: "127.0.0.1", port: 9 },
    ufrag: new Uint8Array([1]),
    now,
    encap: encapKeys,
  });
}

describe("flow table", () => {
  it("finds IPv4 flows by the numeric key the encapsulation header gives", () => {
    const t = new FlowTable(10);
    const f = flow("192.0.2.10", 40000);
    expect(t.add(f)).toBe(true);
    expect(t.getV4(keyV4("192.0.2.10", 40000))).toBe(f);
    expect(t.getV4(encapKeyV4(f.header))).toBe(f);
    expect(t.getV4(keyV4("192.0.2.10", 40001))).toBeUndefined();
    expect(f.header[0]).toBe(0xf4);
  });

  it("finds IPv6 flows by address and port", () => {
    const t = new FlowTable(10);
    const f = flow("2001:db8::1", 5000);
    expect(f.key).toBe(-1);
    expect(t.add(f)).toBe(true);
    expect(t.getV6("2001:db8::1", 5000)).toBe(f);
    expect(t.getV6("2001:db8::1", 5001)).toBeUndefined();
    expect(t.getV6("2001:db8::2", 5000)).toBeUndefined();
    expect(f.header[0]).toBe(0xf6);
    expect(f.header.length).toBe(ENCAP_V6_LEN);
  });

  it("keys IPv4-mapped clients of a dual-stack socket as IPv4, and replies go to the address as seen", () => {
    const f = flow("::ffff:198.51.100.7", 1234);
    expect(f.key).toBe(keyV4("198.51.100.7", 1234));
    expect(f.header[0]).toBe(0xf4);
    expect(f.address).toBe("::ffff:198.51.100.7");
    expect(clientKeyV4("::ffff:abcd:1", 1)).toBe(-1);
  });

  it("refuses a second flow for the same client", () => {
    const t = new FlowTable(10);
    expect(t.add(flow("10.0.0.1", 1))).toBe(true);
    expect(t.add(flow("10.0.0.1", 1))).toBe(false);
    expect(t.size).toBe(1);
  });

  it("is bounded: new flows are refused when full, and accepted again once one expires", () => {
    const t = new FlowTable(3);
    expect(t.add(flow("10.0.0.1", 1, 0))).toBe(true);
    expect(t.add(flow("10.0.0.1", 2, 0))).toBe(true);
    expect(t.add(flow("2001:db8::1", 3, 500))).toBe(true);
    expect(t.full).toBe(true);
    expect(t.add(flow("10.0.0.1", 4, 500))).toBe(false);
    expect(t.size).toBe(3);
    expect(t.sweep(1000, 1000)).toBe(2);
    expect(t.add(flow("10.0.0.1", 4, 1000))).toBe(true);
  });

  it("expires flows idle for the timeout, keeps the ones seen since", () => {
    const t = new FlowTable(10);
    const a = flow("10.0.0.1", 1, 0);
    const b = flow("10.0.0.2", 1, 0);
    const c = flow("2001:db8::5", 1, 0);
    for (const f of [a, b, c]) t.add(f);
    b.lastSeen = 20_000;
    const expired: Flow[] = [];
    expect(t.sweep(29_999, 30_000, (f) => expired.push(f))).toBe(0);
    expect(t.sweep(30_000, 30_000, (f) => expired.push(f))).toBe(2);
    expect(expired).toEqual([a, c]);
    expect(t.getV4(a.key)).toBeUndefined();
    expect(t.getV4(b.key)).toBe(b);
    expect(t.getV6("2001:db8::5", 1)).toBeUndefined();
    expect([...t.flows()]).toEqual([b]);
  });

  it("delete removes by either key", () => {
    const t = new FlowTable(10);
    const a = flow("10.0.0.1", 1);
    const c = flow("2001:db8::5", 1);
    t.add(a);
    t.add(c);
    expect(t.delete(a)).toBe(true);
    expect(t.delete(c)).toBe(true);
    expect(t.size).toBe(0);
  });

  it("refuses a nonsensical bound", () => {
    expect(() => new FlowTable(0)).toThrow(/max flows/);
  });
});
