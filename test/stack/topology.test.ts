/** The stack topology's impairer option: validated, and what the edge advertises. */
import { describe, expect, it } from "vitest";
import {
  advertisedPort,
  advertisesIngressTcp,
  edgeConfig,
  parseTopology,
} from "../../media/stack/topology.ts";

const region = (impair?: unknown) => ({
  name: "eu",
  cluster: 1,
  latitude: 50,
  longitude: 8,
  ingressPort: 3478,
  transceiverPort: 8801,
  ...(impair ? { impair } : {}),
});
const ingressAddress = (t: ReturnType<typeof parseTopology>) =>
  (edgeConfig(t) as { ingresses: { address: string }[] }).ingresses[0]!.address;

describe("topology: impair", () => {
  it("makes the edge advertise the impairer instead of the ingress", () => {
    const plain = parseTopology({ regions: [region()] });
    expect(ingressAddress(plain)).toBe("127.0.0.1:3478");
    const t = parseTopology({ regions: [region({ port: 4478, profile: "rtt150,loss=1%" })] });
    expect(ingressAddress(t)).toBe("127.0.0.1:4478");
    expect(advertisedPort(t.regions[0]!)).toBe(4478);
    expect(t.regions[0]!.impair).toEqual({ port: 4478, profile: "rtt150,loss=1%", seed: 1 });
    expect(parseTopology({ regions: [region({ port: 4478 })] }).regions[0]!.impair!.profile).toBe("clean");
  });

  it("refuses a bad profile and a port used twice", () => {
    expect(() => parseTopology({ regions: [region({ port: 4478, profile: "lossy" })] })).toThrow(
      /regions\.0\.impair\.profile: not a profile: lossy/,
    );
    expect(() => parseTopology({ regions: [region({ port: 3478 })] })).toThrow(
      /port 3478 is used twice: eu ingress and eu impairer/,
    );
  });

  it("advertises no TCP path around an impairer: only its TCP mode's, or none", () => {
    const tcpOf = (t: ReturnType<typeof parseTopology>, ports: (number | undefined)[]) =>
      (edgeConfig(t, ports) as { ingresses: { tcp_address?: string }[] }).ingresses[0]!.tcp_address;
    const plain = parseTopology({ regions: [region()] });
    expect(advertisesIngressTcp(plain.regions[0]!)).toBe(true);
    expect(tcpOf(plain, [3478])).toBe("127.0.0.1:3478");
    const udpOnly = parseTopology({ regions: [region({ port: 4478 })] });
    expect(advertisesIngressTcp(udpOnly.regions[0]!)).toBe(false);
    expect(tcpOf(udpOnly, [undefined])).toBeUndefined();
    expect(() => parseTopology({ tcpOnly: true, regions: [region({ port: 4478 })] })).toThrow(
      /eu: tcpOnly with an impairer needs impair.tcpPort/,
    );
    expect(() =>
      parseTopology({ tcpOnly: true, regions: [region({ port: 4478, tcpPort: 4443 })] }),
    ).not.toThrow();
  });
});
