// Trains the product quantizer's codebooks: an independent k-means (Euclidean,
// 256 centroids) per subspace, on a sample, since codes are only a first-round
// filter that the int8 re-rank corrects. The assignment step, nearly all of the
// cost, can run on the compute pool's threads: each point's nearest centroid
// does not depend on who computes it, so the codebooks are the same bytes.
import { PQ_CENTROIDS } from "../../../lib/index/format.ts";
import type { ComputePool } from "../pools/compute-pool.ts";
import { nearestCodes, rng } from "./kernels.ts";

/** Each of `count` points (`sub` floats each, contiguous) → its nearest of the 256 centroids in `cb`. */
export type Assigner = (points: Float32Array, count: number, sub: number, cb: Float32Array, norms: Float32Array) => Promise<Uint8Array>;

export const inlineAssigner: Assigner = async (points, count, sub, cb, norms) => nearestCodes(points, 0, count, sub, cb, norms);

/** Points split in ranges over the pool's threads (points must be in a SharedArrayBuffer). */
export function poolAssigner(pool: ComputePool): Assigner {
  return async (points, count, sub, cb, norms) => {
    const parts = await pool.all<Uint8Array>(pool.ranges(count, 1).map(([start, end]) => ({ kind: "nearestCodes", points, sub, cb, norms, start, end })));
    const out = new Uint8Array(count);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
}

export async function trainCodebooks(
  vectors: Float32Array,
  dim: number,
  n: number,
  pqM: number,
  options: {
    sample?: number;
    /** k-means iterations per subspace, at most. */
    iterations?: number;
    /** Stop a subspace's k-means once fewer than this share of the sample changes code in an iteration. */
    settled?: number;
    seed?: number;
  } = {},
  assign: Assigner = inlineAssigner,
): Promise<Float32Array> {
  const sub = dim / pqM;
  const random = rng(options.seed ?? 11);
  const sampleSize = Math.min(n, options.sample ?? 8192);
  const sample = new Int32Array(sampleSize);
  if (sampleSize === n) for (let i = 0; i < n; i++) sample[i] = i;
  else for (let i = 0; i < sampleSize; i++) sample[i] = Math.floor(random() * n);
  const codebooks = new Float32Array(pqM * PQ_CENTROIDS * sub);
  // The sample's subspace copied contiguously: strided reads across 512-float
  // rows dominate the cost otherwise.
  const local = new Float32Array(new SharedArrayBuffer(sampleSize * sub * Float32Array.BYTES_PER_ELEMENT));
  for (let m = 0; m < pqM; m++) {
    for (let i = 0; i < sampleSize; i++) local.set(vectors.subarray(sample[i] * dim + m * sub, sample[i] * dim + (m + 1) * sub), i * sub);
    const cb = codebooks.subarray(m * PQ_CENTROIDS * sub, (m + 1) * PQ_CENTROIDS * sub);
    for (let c = 0; c < PQ_CENTROIDS; c++) {
      const p = Math.floor(random() * sampleSize);
      cb.set(local.subarray(p * sub, (p + 1) * sub), c * sub);
    }
    await kMeansSubspace(local, sampleSize, sub, cb, { iterations: options.iterations ?? 10, settled: options.settled ?? 0, random }, assign);
  }
  return codebooks;
}

/** Lloyd iterations of one subspace's 256 centroids `cb` (seeded) over its `count` points. */
async function kMeansSubspace(
  local: Float32Array,
  count: number,
  sub: number,
  cb: Float32Array,
  o: { iterations: number; settled: number; random: () => number },
  assign: Assigner,
): Promise<void> {
  const sums = new Float64Array(PQ_CENTROIDS * sub);
  const counts = new Int32Array(PQ_CENTROIDS);
  const norms = new Float32Array(PQ_CENTROIDS);
  let previous: Uint8Array | undefined;
  for (let it = 0; it < o.iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    for (let c = 0; c < PQ_CENTROIDS; c++) {
      let s = 0;
      for (let d = 0; d < sub; d++) s += cb[c * sub + d] ** 2;
      norms[c] = s;
    }
    const codes = await assign(local, count, sub, cb.slice(), norms);
    if (previous && changedShare(previous, codes) < o.settled) break;
    previous = codes;
    for (let i = 0; i < count; i++) {
      const best = codes[i];
      counts[best]++;
      for (let d = 0; d < sub; d++) sums[best * sub + d] += local[i * sub + d];
    }
    for (let c = 0; c < PQ_CENTROIDS; c++) {
      if (counts[c] === 0) {
        const p = Math.floor(o.random() * count);
        cb.set(local.subarray(p * sub, (p + 1) * sub), c * sub);
      } else for (let d = 0; d < sub; d++) cb[c * sub + d] = sums[c * sub + d] / counts[c];
    }
  }
}

function changedShare(a: Uint8Array, b: Uint8Array): number {
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
  return changed / a.length;
}
