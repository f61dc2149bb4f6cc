// Passes over every row of a vector source, a chunk at a time, on one compute
// pool: the pool's shared buffer holds one chunk, and each chunk overwrites the
// last, so a pass's memory is a chunk's whatever the row count. A source held
// whole in memory is one chunk, the pool over it, nothing copied
// (docs/decisions.md#streamed-build).
import { ComputePool } from "./compute-pool.ts";
import { sharedVectors } from "../embedding/embed-corpus.ts";
import type { VectorSource } from "../embedding/vector-source.ts";

/** Rows a chunk holds: enough for every thread to take many tasks, a small share of memory. */
export const PASS_CHUNK_ROWS = 262_144;

export interface Chunk {
  /** Global row of the chunk's row 0. */
  start: number;
  end: number;
  /** The pool whose vectors are this chunk's rows (row 0 = global row `start`). */
  pool: ComputePool;
  vectors: Float32Array;
}

export class RowPasses {
  private constructor(
    readonly source: VectorSource,
    /** The pool chunks are loaded into; tasks that carry their own points (pq.ts's assigner) may use it between chunks. */
    readonly pool: ComputePool,
    readonly chunkRows: number,
  ) {}

  static open(source: VectorSource, threads?: number, chunkRows = PASS_CHUNK_ROWS): RowPasses {
    if (source.whole) return new RowPasses(source, new ComputePool(source.whole, source.dim, threads), source.rows);
    const rows = Math.max(1, Math.min(chunkRows, source.rows));
    return new RowPasses(source, new ComputePool(sharedVectors(rows, source.dim), source.dim, threads), rows);
  }

  get rows(): number {
    return this.source.rows;
  }
  get dim(): number {
    return this.source.dim;
  }
  get threads(): number {
    return this.pool.threads;
  }
  /** The one chunk when the source is in memory (its pool holds every row), else null. */
  get wholePool(): ComputePool | null {
    return this.source.whole ? this.pool : null;
  }

  /** Calls `fn` on every chunk, in row order. */
  async each(fn: (c: Chunk) => Promise<void> | void): Promise<void> {
    const n = this.source.rows;
    for (let start = 0; start < n; start += this.chunkRows) {
      const end = Math.min(n, start + this.chunkRows);
      let vectors = this.pool.vectors;
      if (!this.source.whole) {
        // Rows past `end` in a short last chunk are stale; no task reads them.
        await this.source.read(start, end, vectors);
        vectors = vectors.subarray(0, (end - start) * this.dim);
      }
      await fn({ start, end, pool: this.pool, vectors });
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
