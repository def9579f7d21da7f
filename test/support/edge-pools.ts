/** A pool of the edge's config as the tests write one. */

/** Pool `id`: region "eu" near Frankfurt, a loopback endpoint on port 8800 + id; `over` adds or replaces (validly or not). */
export function testPool<O extends Record<string, unknown>>(id: number, over: O = {} as O) {
  return {
    id,
    name: `pool-${id}`,
    region: "eu",
    latitude: 50,
    longitude: 8,
    endpoint: `http://127.0.0.1:${8800 + id}`,
    ...over,
  };
}
