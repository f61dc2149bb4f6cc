// The units of work the compute pool hands out, and the one function that runs
// them, on a worker thread or inline: the same code either way, so a build's
// bytes never depend on how many threads made it.
import { exactTopKRows, nearestTwo, pqEncodeRows, sphericalKMeans, type KMeansOptions } from "./kernels.ts";

export type Task =
  | { kind: "kmeans"; rows: Int32Array; k: number; options: KMeansOptions }
  /** Rows [start, end): their best and second-best of `centroids` (two ids per row). */
  | { kind: "nearestTwo"; centroids: Float32Array; start: number; end: number }
  /** Rows [start, end): their nearest leaf among the leaves of their two groups. */
  | { kind: "assignLeaves"; leafCentroids: Float32Array; groupStart: Int32Array; groupsOfRows: Int32Array; start: number; end: number }
  | { kind: "pqEncode"; codebooks: Float32Array; pqM: number; start: number; end: number }
  | { kind: "exact"; queries: Float32Array; k: number; start: number; end: number };

export type TaskResult = Float32Array | Int32Array | Uint8Array | { ids: Int32Array; scores: Float32Array };

export function runTask(vectors: Float32Array, dim: number, t: Task): TaskResult {
  switch (t.kind) {
    case "kmeans":
      return sphericalKMeans(vectors, dim, t.rows, t.k, t.options);
    case "nearestTwo": {
      const k = t.centroids.length / dim;
      const out = new Int32Array((t.end - t.start) * 2);
      for (let i = t.start; i < t.end; i++) nearestTwo(vectors, i * dim, t.centroids, 0, k, dim, out.subarray((i - t.start) * 2, (i - t.start) * 2 + 2));
      return out;
    }
    case "assignLeaves":
      return assignLeaves(vectors, dim, t);
    case "pqEncode":
      return pqEncodeRows(vectors, dim, t.start, t.end, t.codebooks, t.pqM);
    case "exact":
      return exactTopKRows(vectors, dim, t.start, t.end, t.queries, t.k);
  }
}

function assignLeaves(vectors: Float32Array, dim: number, t: Extract<Task, { kind: "assignLeaves" }>): Int32Array {
  const out = new Int32Array(t.end - t.start);
  const best = new Int32Array(2);
  const score = new Float64Array(2);
  for (let i = t.start; i < t.end; i++) {
    let leaf = -1;
    let top = -Infinity;
    for (let j = 0; j < 2; j++) {
      const g = t.groupsOfRows[(i - t.start) * 2 + j];
      if (g < 0) continue;
      nearestTwo(vectors, i * dim, t.leafCentroids, t.groupStart[g], t.groupStart[g + 1], dim, best, score);
      if (best[0] >= 0 && score[0] > top) {
        top = score[0];
        leaf = best[0];
      }
    }
    out[i - t.start] = leaf;
  }
  return out;
}
