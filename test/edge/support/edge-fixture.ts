import { afterAll, beforeAll, beforeEach } from "vitest";
import { type Edge, type EdgeOptions, startEdge } from "./edge.ts";
import { FakeTransceiver } from "./fake-transceiver.ts";
import { topology } from "./topology.ts";

/**
 * The edge in front of fake transceivers for the tests of one file: the fakes
 * and then the Worker started before them (`options` is read then, once the
 * fakes have their ports), stopped after them (after the file's own afterAll
 * hooks, which vitest runs first); before each test the fakes' records and
 * modes and the health state are cleared. The Edge is there once the tests run.
 */
export function edgeForFile(fakes: FakeTransceiver[], options: () => EdgeOptions): Edge {
  const edge = {} as Edge;
  beforeAll(async () => {
    await Promise.all(fakes.map((f) => f.start()));
    Object.assign(edge, await startEdge(options()));
  });
  afterAll(async () => {
    await edge.dispose?.();
    await Promise.all(fakes.map((f) => f.stop()));
  });
  beforeEach(async () => {
    for (const f of fakes) f.reset();
    await edge.resetHealth();
  });
  return edge;
}

/** The same in front of two regions' fakes: eu (pool 1, at fra) and us (pool 2, at iad). */
export function twoRegionEdgeForFile(): { edge: Edge; eu: FakeTransceiver; us: FakeTransceiver } {
  const eu = new FakeTransceiver(1);
  const us = new FakeTransceiver(2);
  const edge = edgeForFile([eu, us], () => ({
    config: topology([
      ["fra", eu],
      ["iad", us],
    ]),
  }));
  return { edge, eu, us };
}
