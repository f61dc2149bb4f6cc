// Precomputed embeddings as build input (`--vectors FILE.f32`): little-endian
// float32, `dim` per row, unit length, row i for the build's item i (the corpus
// in order, blank texts skipped). Everything after the embedding stage is then
// the same as in a build that embedded the corpus itself.
import { open } from "node:fs/promises";
import { UsageError } from "../../common/cli.ts";
import { sharedVectors } from "./embed-corpus.ts";

/** USE-lite's outputs are normalized in float32; anything further off was not made by it. */
export const UNIT_NORM_TOLERANCE = 1e-3;
const READ_CHUNK_BYTES = 64 * 1024 * 1024;

export async function readVectorsFile(file: string, rows: number, dim: number): Promise<Float32Array> {
  const fh = await open(file).catch((e: Error) => {
    throw new UsageError(`${file}: cannot open (${e.message})`);
  });
  try {
    const { size } = await fh.stat();
    const rowBytes = dim * 4;
    if (size % rowBytes !== 0) throw new UsageError(`${file}: ${size} bytes is not a whole number of ${dim}-d float32 rows (${rowBytes} bytes each)`);
    if (size / rowBytes !== rows) throw new UsageError(`${file}: has ${size / rowBytes} rows, the corpus has ${rows} items (one row per item, in corpus order, blank texts skipped)`);
    const vectors = sharedVectors(rows, dim);
    const bytes = new Uint8Array(vectors.buffer);
    for (let o = 0; o < size; ) {
      const { bytesRead } = await fh.read(bytes, o, Math.min(READ_CHUNK_BYTES, size - o), o);
      if (bytesRead === 0) throw new UsageError(`${file}: ended at byte ${o} of ${size}`);
      o += bytesRead;
    }
    checkRows(file, vectors, rows, dim);
    return vectors;
  } finally {
    await fh.close();
  }
}

function checkRows(file: string, v: Float32Array, rows: number, dim: number): void {
  for (let i = 0; i < rows; i++) {
    let sq = 0;
    for (let d = i * dim; d < (i + 1) * dim; d++) {
      const x = v[d];
      if (!Number.isFinite(x)) throw new UsageError(`${file}: row ${i} has a non-finite value (${x}) at dimension ${d - i * dim}`);
      sq += x * x;
    }
    const norm = Math.sqrt(sq);
    if (Math.abs(norm - 1) > UNIT_NORM_TOLERANCE) throw new UsageError(`${file}: row ${i} has norm ${norm.toFixed(4)}; rows must be unit length (±${UNIT_NORM_TOLERANCE})`);
  }
}
