/**
 * Steering's numeric entry points (fromClientV4, fromIngressV4,
 * fromNextHopV4, and the *At ones for IPv6 senders), as the batched I/O
 * backend uses them: the datagram at an offset of a shared buffer with stale
 * bytes around it, IPv4 senders as keyV4 numbers. Whatever happens, they must
 * decide exactly as the string entry points node:dgram's backend uses.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddressSet } from "../../media/relay/config.ts";
import type { Steering } from "../../media/relay/steering.ts";
import { formatKeyV4, keyV4 } from "../../media/wire/encap.ts";
import {
  binding,
  CLUSTER,
  clientHello,
  encapped,
  hint,
  otherKeys,
  rtp,
  testSteering,
  verifiedHello,
} from "../support/relay-fixtures.ts";

type Side = "client" | "ingress" | "transceiver";
interface Ev {
  side: Side;
  buf: Buffer;
  address: string;
  port: number;
}

const T = { address: "127.0.0.1", port: 9000 };
const T2 = { address: "127.0.0.1", port: 9001 };
const C1 = { address: "203.0.113.5", port: 5000 };
const C2 = { address: "203.0.113.6", port: 5001 };
const V6 = { address: "2001:db8::5", port: 6000 };
const ING = { address: "10.9.0.1", port: 41000 };
const ING2 = { address: "10.9.0.2", port: 41000 };
const STRANGER = { address: "198.51.100.1", port: 4000 };

const reply = (to: { address: string; port: number }, payload: Buffer) =>
  encapped(to.address, to.port, payload);
const ev = (side: Side, buf: Buffer, from: { address: string; port: number }): Ev => ({ side, buf, ...from });

/** Datagrams of a cluster relay facing clients. */
const clientEvents: Ev[] = [
  ev("client", binding(hint(T.port)), C1),
  ev("client", binding(hint(T2.port)), C1), // re-point
  ev("client", binding(hint(T.port)), C2),
  ev("client", binding(hint(T.port, { ring: otherKeys })), C2), // bad hint
  ev("client", binding(hint(T.port, { cluster: CLUSTER + 1 })), C2), // wrong cluster
  ev("client", rtp(), C1),
  ev("client", rtp(200, 3), C2),
  ev("client", clientHello({ cookie: Buffer.alloc(16, 1) }), C1), // bad-cookie
  ev("client", verifiedHello(C1.address, C1.port, 0), C1),
  ev("client", Buffer.alloc(0), C1),
  ev("client", rtp(), { address: "203.0.113.99", port: 7 }), // unknown: not-stun (or recover)
  ev("client", binding(hint(T.port)), V6),
  ev("client", rtp(), V6),
  ev("transceiver", reply(C1, Buffer.alloc(40, 2)), T),
  ev("transceiver", reply(C1, Buffer.alloc(1200, 2)), T2),
  ev("transceiver", reply(C2, Buffer.alloc(3000, 2)), T), // amplification until verified
  ev("transceiver", reply(C2, rtp()), { address: "127.0.0.1", port: 9999 }), // wrong source
  ev("transceiver", reply(V6, rtp()), T),
  ev("transceiver", reply({ address: "203.0.113.77", port: 1 }, rtp()), T), // unknown flow
  ev("transceiver", rtp(), T), // malformed
];

/** Datagrams of a cluster relay behind ingresses. */
const ingressEvents: Ev[] = [
  ev("ingress", reply(C1, binding(hint(T.port))), ING),
  ev("ingress", reply(C1, rtp()), ING),
  ev("ingress", reply(C1, rtp()), ING2), // another ingress: replies follow
  ev("ingress", reply(C1, binding(hint(T2.port))), ING),
  ev("ingress", reply(C2, binding(hint(T.port))), STRANGER), // unknown ingress
  ev("ingress", reply(C2, rtp()), ING), // no flow: not-stun (or recover)
  ev("ingress", reply(V6, binding(hint(T.port))), ING2),
  ev("ingress", reply(V6, rtp()), ING),
  ev("ingress", rtp(), ING), // malformed
  ev("ingress", reply(C1, rtp()), STRANGER),
  ev("transceiver", reply(C1, Buffer.alloc(300, 2)), T),
  ev("transceiver", reply(C1, rtp()), T2),
  ev("transceiver", reply(V6, rtp()), T),
];

function steering(o: { ingresses: boolean; recoverable: boolean }) {
  return testSteering({
    ingresses: o.ingresses ? AddressSet.parse("10.9.0.0/16") : undefined,
    recoverable: o.recoverable,
  });
}

/** The string entry points, a datagram of its own. */
function byString(s: Steering, e: Ev, now: number): string {
  if (e.side === "client") return s.fromClient(e.buf, e.address, e.port, now);
  if (e.side === "ingress") return s.fromIngress(e.buf, e.address, e.port, now);
  return s.fromNextHop(e.buf, e.address, e.port);
}

/** The numeric entry points, the datagram at `off` of a shared buffer full of stale bytes. */
function byNumber(s: Steering, e: Ev, now: number, slab: Uint8Array, off: number): string {
  slab.fill(0x01); // stale STUN-ish bytes: nothing may read past the datagram's end
  slab.set(e.buf, off);
  const len = e.buf.length;
  const key = keyV4(e.address, e.port);
  if (key < 0) {
    if (e.side === "client") return s.fromClientAt(slab, off, len, e.address, e.port, now);
    if (e.side === "ingress") return s.fromIngressAt(slab, off, len, e.address, e.port, now);
    return s.fromNextHopAt(slab, off, len, e.address, e.port);
  }
  if (e.side === "client") return s.fromClientV4(slab, off, len, key, now);
  if (e.side === "ingress") return s.fromIngressV4(slab, off, len, key, now);
  return s.fromNextHopV4(slab, off, len, key);
}

function view(s: Steering) {
  const flow = s.flow;
  return {
    flow: flow && {
      address: flow.address,
      port: flow.port,
      key: flow.key,
      hop: flow.hop,
      ingress: flow.ingress,
      ingressKey: flow.ingressKey,
      ufrag: Buffer.from(flow.ufrag).toString("latin1"),
      verified: flow.budget.verified,
    },
    hop: s.hop,
    payloadOffset: s.payloadOffset,
    recoverKey: s.recoverKey,
  };
}

function twin(events: Ev[], o: { ingresses: boolean; recoverable: boolean }, offsets: number[]) {
  const a = steering(o);
  const b = steering(o);
  const slab = new Uint8Array(8192);
  events.forEach((e, i) => {
    const va = byString(a, e, i);
    const vb = byNumber(b, e, i, slab, offsets[i % offsets.length]!);
    expect(vb, `event ${i}: ${e.side} from ${e.address}:${e.port}`).toBe(va);
    if (va !== "recover" || a.recoverKey >= 0) expect(view(b)).toEqual(view(a));
  });
  expect(JSON.stringify(b.stats)).toBe(JSON.stringify(a.stats));
  expect(b.table.size).toBe(a.table.size);
}

describe("steering: numeric entry points decide as the string ones", () => {
  it.each(
    [false, true].flatMap((recoverable) => {
      const shared = recoverable ? ", with shared flow records" : "";
      return [
        { name: `facing clients${shared}`, pool: clientEvents, ingresses: false, recoverable },
        { name: `behind ingresses${shared}`, pool: ingressEvents, ingresses: true, recoverable },
      ];
    }),
  )("$name: any sequence", ({ pool, ingresses, recoverable }) => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pool), { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 1, maxLength: 5 }),
        (events, offsets) => twin(events, { ingresses, recoverable }, offsets),
      ),
      { numRuns: 300 },
    );
  });

  it("the scripted sequences, in order", () => {
    twin(clientEvents, { ingresses: false, recoverable: false }, [32, 65568 % 8000, 0]);
    twin(ingressEvents, { ingresses: true, recoverable: true }, [32, 100]);
  });

  it("numeric clients get the same flow address a string would give, and their ingress a number", () => {
    const s = steering({ ingresses: true, recoverable: false });
    const slab = new Uint8Array(2048);
    const req = reply(C1, binding(hint(T.port)));
    slab.set(req, 64);
    expect(s.fromIngressV4(slab, 64, req.length, keyV4(ING.address, ING.port), 1)).toBe("open");
    expect(s.flow!.address).toBe(C1.address);
    expect(s.flow!.ingress).toEqual(ING);
    expect(s.flow!.ingressKey).toBe(keyV4(ING.address, ING.port));
    expect(formatKeyV4(keyV4("1.2.3.4", 5))).toBe("1.2.3.4");
    expect(formatKeyV4(keyV4("255.254.0.1", 65535))).toBe("255.254.0.1");
  });
});
