// The units of work the compute pool hands out, and the one function that runs
// them, on a worker thread or inline: the same code either way, so a build's
// bytes never depend on how many threads made it.
import { exactTopKRows, gatherRows, nearestCodes, pqEncodeRotated, soarBest, sphericalKMeans, topTwo, treeKMeans, type KMeansOptions } from "../training/kernels.ts";

export type Task =
  | { kind: "kmeans"; rows: Int32Array; k: number; options: KMeansOptions }
  /** treeKMeans: flat up to FLAT_KMEANS_MAX centroids, two-level above. */
  | { kind: "kmeansTree"; rows: Int32Array; k: number; options: KMeansOptions }
  /** Rows [start, end): their best and second-best of `centroids` (two ids per row). */
  | { kind: "nearestTwo"; centroids: Float32Array; start: number; end: number }
  /** The given rows against leaves [from, to) of `leafCentroids`: each row's best leaf and its score. */
  | { kind: "bestLeaf"; rows: Int32Array; leafCentroids: Float32Array; from: number; to: number }
  /** The given rows (primary leaf each) against leaves [from, to): each row's spill leaf by SOAR cost (spill.ts). */
  | { kind: "soarBest"; rows: Int32Array; primary: Int32Array; leafCentroids: Float32Array; from: number; to: number; lambda: number }
  /** Rows [start, end), rotated by `rotation` (opq.ts), coded by `codebooks`. */
  | { kind: "pqEncode"; rotation: Float32Array; codebooks: Float32Array; pqM: number; start: number; end: number }
  /** Points [start, end) of a PQ subspace (`sub` floats each, shared): each one's nearest centroid of `cb` (pq.ts). */
  | { kind: "nearestCodes"; points: Float32Array; sub: number; cb: Float32Array; norms: Float32Array; start: number; end: number }
  | { kind: "exact"; queries: Float32Array; k: number; start: number; end: number };

export type TaskResult = Float32Array | Int32Array | Uint8Array | { ids: Int32Array; scores: Float32Array } | { ids: Int32Array; costs: Float32Array };

export function runTask(vectors: Float32Array, dim: number, t: Task): TaskResult {
  switch (t.kind) {
    case "kmeans":
      return sphericalKMeans(vectors, dim, t.rows, t.k, t.options);
    case "kmeansTree":
      return treeKMeans(vectors, dim, t.rows, t.k, t.options);
    case "nearestTwo": {
      const rows = t.end - t.start;
      const best = new Int32Array(rows * 2);
      topTwo(vectors, t.start, rows, t.centroids, t.centroids.length / dim, dim, best, new Float32Array(rows * 2));
      return best;
    }
    case "bestLeaf":
      return bestLeaf(vectors, dim, t);
    case "soarBest":
      return soarBest(vectors, dim, t.rows, t.primary, t.leafCentroids, t.from, t.to, t.lambda);
    case "pqEncode":
      return pqEncodeRotated(vectors, dim, t.start, t.end, t.rotation, t.codebooks, t.pqM);
    case "nearestCodes":
      return nearestCodes(t.points, t.start, t.end, t.sub, t.cb, t.norms);
    case "exact":
      return exactTopKRows(vectors, dim, t.start, t.end, t.queries, t.k);
  }
}

function bestLeaf(vectors: Float32Array, dim: number, t: Extract<Task, { kind: "bestLeaf" }>): { ids: Int32Array; scores: Float32Array } {
  const n = t.rows.length;
  const leaves = t.leafCentroids.subarray(t.from * dim, t.to * dim);
  const best = new Int32Array(n * 2);
  const score = new Float32Array(n * 2);
  topTwo(gatherRows(vectors, dim, t.rows), 0, n, leaves, t.to - t.from, dim, best, score);
  const ids = new Int32Array(n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = t.from + best[i * 2];
    scores[i] = score[i * 2];
  }
  return { ids, scores };
}
