// A 1.2M-item (or any size) set grown from real embeddings, for scale runs the
// model could not embed here in time (docs/decisions.md#synthetic-scale-set).
//
// Generator, seeded and deterministic: the real rows come first, unchanged;
// each synthetic row picks a real row a, one of a's 10 nearest real neighbours
// b, t ~ U(0, 1), and is normalize((1 − t)·a + t·b + σ·g), g a standard
// normal vector scaled to unit expected length. It lies between two real
// headlines that mean nearly the same thing, off the segment by noise of norm
// about σ; its text is a's (records stay headline-sized). The neighbour-cosine
// quantiles of both sets (neighbourQuantiles) show how it compares with real data.
import { normalizeInPlace } from "../../lib/model/embed.ts";
import { dot, TopK } from "../../lib/index/vector.ts";
import type { ComputePool } from "../builder/pools/compute-pool.ts";
import { RowPasses } from "../builder/pools/row-passes.ts";
import { concat } from "../../lib/index/concat.ts";
import { rng } from "../builder/training/kernels.ts";
import { exactTruth } from "../builder/check/self-check.ts";

export interface SyntheticOptions {
  items: number;
  seed: number;
  /** Norm of the noise added to each interpolated point. */
  noise: number;
}

/**
 * Noise 0.55: two synthetic points from the same pair sit at cosine ≈ 1/(1 + 0.55²),
 * close to the real headlines' median nearest-neighbour cosine; much less noise
 * makes near-duplicates (docs/decisions.md#synthetic-scale-set).
 */
export const SYNTHETIC_DEFAULTS = { seed: 2003, noise: 0.55 };
/** b is drawn from a's nearest real neighbours. */
const NEIGHBOURS = 10;
/** Clusters that bound the real set's neighbour search (each point looks in its two nearest). */
const NEIGHBOUR_CLUSTERS = 256;

export interface SyntheticSet {
  vectors: Float32Array;
  /** The real row each item takes its text from (itself for real rows). */
  parent: Int32Array;
}

/** Standard normal deviates by Box–Muller. */
function gaussian(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * Each real row's nearest real neighbours (self excluded), searched among the
 * members of its two nearest clusters: exact enough for picking interpolation
 * partners at a fraction of an all-pairs scan.
 */
export async function realNeighbours(pool: ComputePool, n: number, seed: number): Promise<Int32Array> {
  const dim = pool.dim;
  const v = pool.vectors;
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const [centroids] = await pool.all<Float32Array>([{ kind: "kmeans", rows, k: NEIGHBOUR_CLUSTERS, options: { iterations: 6, samplesPerCentroid: 32, seed } }]);
  const shared = new Float32Array(new SharedArrayBuffer(centroids.byteLength));
  shared.set(centroids);
  const twoParts = await pool.all<Int32Array>(pool.ranges(n).map(([start, end]) => ({ kind: "nearestTwo", centroids: shared, start, end })));
  const two = concat(twoParts);
  const members: number[][] = Array.from({ length: NEIGHBOUR_CLUSTERS }, () => []);
  for (let i = 0; i < n; i++) members[two[i * 2]].push(i);
  const out = new Int32Array(n * NEIGHBOURS).fill(-1);
  for (let i = 0; i < n; i++) {
    const top = new TopK(NEIGHBOURS);
    const q = v.subarray(i * dim, (i + 1) * dim);
    for (const c of [two[i * 2], two[i * 2 + 1]]) {
      if (c < 0) continue;
      for (const j of members[c]) if (j !== i) top.push(j, dot(q, v, j * dim, dim));
    }
    top.entries().forEach((e, j) => (out[i * NEIGHBOURS + j] = e.id));
  }
  return out;
}

export function grow(real: Float32Array, dim: number, neighbours: Int32Array, o: SyntheticOptions): SyntheticSet {
  const vectors = new Float32Array(new SharedArrayBuffer(o.items * dim * 4));
  const parent = new Int32Array(o.items);
  for (const c of growChunks(real, dim, neighbours, o, o.items)) {
    vectors.set(c.vectors, c.start * dim);
    parent.set(c.parent, c.start);
  }
  return { vectors, parent };
}

/**
 * The same set, `chunkRows` rows at a time in row order (one generator state
 * throughout, so every chunking gives the same rows): a set larger than
 * memory is written to disk as it is made.
 */
export function* growChunks(real: Float32Array, dim: number, neighbours: Int32Array, o: SyntheticOptions, chunkRows: number): Generator<{ start: number; vectors: Float32Array; parent: Int32Array }> {
  const nReal = real.length / dim;
  if (o.items < nReal) throw new Error(`a synthetic set of ${o.items} items cannot hold the ${nReal} real ones`);
  const random = rng(o.seed);
  const normal = gaussian(rng(o.seed + 1));
  const sigma = o.noise / Math.sqrt(dim);
  for (let start = 0; start < o.items; start += chunkRows) {
    const end = Math.min(o.items, start + chunkRows);
    const vectors = new Float32Array((end - start) * dim);
    const parent = new Int32Array(end - start);
    for (let i = start; i < end; i++) {
      const out = vectors.subarray((i - start) * dim, (i - start + 1) * dim);
      if (i < nReal) {
        out.set(real.subarray(i * dim, (i + 1) * dim));
        parent[i - start] = i;
        continue;
      }
      const a = Math.floor(random() * nReal);
      let b = neighbours[a * NEIGHBOURS + Math.floor(random() * NEIGHBOURS)];
      if (b < 0) b = a;
      const t = random();
      for (let d = 0; d < dim; d++) out[d] = (1 - t) * real[a * dim + d] + t * real[b * dim + d] + sigma * normal();
      normalizeInPlace(out);
      parent[i - start] = a;
    }
    yield { start, vectors, parent };
  }
}

export interface Quantiles {
  points: number;
  top1: Record<string, number>;
  top10: Record<string, number>;
}

export const QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95];

/**
 * For `points` rows drawn with a seed, the cosine of their nearest and 10th
 * nearest other row in the whole set, at QUANTILES (exact search on every core).
 */
export async function neighbourQuantiles(set: ComputePool | RowPasses, points: number, seed: number): Promise<Quantiles> {
  const dim = set.dim;
  const n = set instanceof RowPasses ? set.rows : set.vectors.length / dim;
  const row = async (r: number) => (set instanceof RowPasses ? (await set.source.read(r, r + 1)).slice() : set.vectors.slice(r * dim, (r + 1) * dim));
  const random = rng(seed);
  const rows = Array.from({ length: points }, () => Math.floor(random() * n));
  const queries = await Promise.all(rows.map(row));
  const truth = await exactTruth(set, queries, NEIGHBOURS + 1);
  const top1: number[] = [];
  const top10: number[] = [];
  for (let i = 0; i < truth.length; i++) {
    const others = truth[i].filter((id) => id !== rows[i]);
    top1.push(dot(queries[i], await row(others[0]), 0, dim));
    top10.push(dot(queries[i], await row(others[NEIGHBOURS - 1]), 0, dim));
  }
  const q = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return Object.fromEntries(QUANTILES.map((p) => [`p${Math.round(p * 100)}`, +s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(4)]));
  };
  return { points, top1: q(top1), top10: q(top10) };
}
