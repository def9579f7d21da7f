/** deflate-raw through the streams API both Workers and Node provide. */

export function deflate(data: Uint8Array): Promise<Uint8Array> {
  return pipe(data, new CompressionStream("deflate-raw"));
}

/** Rejects on corrupt input; callers only inflate what they authenticated first. */
export function inflate(data: Uint8Array): Promise<Uint8Array> {
  return pipe(data, new DecompressionStream("deflate-raw"));
}

async function pipe(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const copy = new Uint8Array(data.length);
  copy.set(data);
  const body = new Response(new Blob([copy]).stream().pipeThrough(stream));
  return new Uint8Array(await body.arrayBuffer());
}
