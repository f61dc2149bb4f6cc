// Precomputed embeddings as build input (`--vectors FILE.f32`): little-endian
// float32, `dim` per row, unit length, row i for the build's item i (the corpus
// in order, blank texts skipped). Everything after the embedding stage is then
// the same as in a build that embedded the corpus itself. The build reads the
// file a chunk at a time (vector-source.ts); this reads it whole, for tools
// whose sets fit in memory.
import { sharedVectors } from "./embed-corpus.ts";
import { FileVectors } from "./vector-source.ts";

export { UNIT_NORM_TOLERANCE } from "./vector-source.ts";

export async function readVectorsFile(file: string, rows: number, dim: number): Promise<Float32Array> {
  const src = await FileVectors.open(file, rows, dim);
  try {
    return await src.read(0, rows, sharedVectors(rows, dim));
  } finally {
    await src.close();
  }
}
