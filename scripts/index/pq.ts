// Trains the product quantizer's codebooks: an independent k-means (Euclidean,
// 256 centroids) per subspace, on a sample, since codes are only a first-round
// filter that the int8 re-rank corrects.
import { PQ_CENTROIDS } from "../../lib/index/format.ts";
import { nearestCode, rng } from "./kernels.ts";

export function trainCodebooks(vectors: Float32Array, dim: number, n: number, pqM: number, options: { sample?: number; iterations?: number; seed?: number } = {}): Float32Array {
  const sub = dim / pqM;
  const random = rng(options.seed ?? 11);
  const sampleSize = Math.min(n, options.sample ?? 8192);
  const sample = new Int32Array(sampleSize);
  if (sampleSize === n) for (let i = 0; i < n; i++) sample[i] = i;
  else for (let i = 0; i < sampleSize; i++) sample[i] = Math.floor(random() * n);
  const iterations = options.iterations ?? 10;
  const codebooks = new Float32Array(pqM * PQ_CENTROIDS * sub);
  const sums = new Float64Array(PQ_CENTROIDS * sub);
  const counts = new Int32Array(PQ_CENTROIDS);
  const norms = new Float32Array(PQ_CENTROIDS);
  // The sample's subspace copied contiguously: strided reads across 512-float
  // rows dominate the cost otherwise.
  const local = new Float32Array(sampleSize * sub);
  for (let m = 0; m < pqM; m++) {
    for (let i = 0; i < sampleSize; i++) local.set(vectors.subarray(sample[i] * dim + m * sub, sample[i] * dim + (m + 1) * sub), i * sub);
    const cb = codebooks.subarray(m * PQ_CENTROIDS * sub, (m + 1) * PQ_CENTROIDS * sub);
    for (let c = 0; c < PQ_CENTROIDS; c++) {
      const p = Math.floor(random() * sampleSize);
      cb.set(local.subarray(p * sub, (p + 1) * sub), c * sub);
    }
    for (let it = 0; it < iterations; it++) {
      sums.fill(0);
      counts.fill(0);
      for (let c = 0; c < PQ_CENTROIDS; c++) {
        let s = 0;
        for (let d = 0; d < sub; d++) s += cb[c * sub + d] ** 2;
        norms[c] = s;
      }
      for (let i = 0; i < sampleSize; i++) {
        const best = nearestCode(local, i * sub, cb, norms, sub);
        counts[best]++;
        for (let d = 0; d < sub; d++) sums[best * sub + d] += local[i * sub + d];
      }
      for (let c = 0; c < PQ_CENTROIDS; c++) {
        if (counts[c] === 0) {
          const p = Math.floor(random() * sampleSize);
          cb.set(local.subarray(p * sub, (p + 1) * sub), c * sub);
        } else for (let d = 0; d < sub; d++) cb[c * sub + d] = sums[c * sub + d] / counts[c];
      }
    }
  }
  return codebooks;
}
