// Spherical k-means (cosine) for partitioning the corpus. Trained on a sample so
// the cost per level is bounded, then every vector is assigned in one pass.
import { dot } from "../../lib/index/vector.ts";
import { normalizeInPlace } from "../../lib/model/embed.ts";

export interface KMeansResult {
  centroids: Float32Array; // k * dim, unit length
  k: number;
}

/** Deterministic PRNG so that builds are reproducible (content-hash versions). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function sphericalKMeans(
  vectors: Float32Array,
  dim: number,
  rows: Int32Array,
  k: number,
  options: { iterations?: number; sampleCap?: number; seed?: number } = {},
): KMeansResult {
  const iterations = options.iterations ?? 12;
  const random = rng(options.seed ?? 1);
  let sample = rows;
  const cap = options.sampleCap ?? Math.max(k * 64, 2048);
  if (rows.length > cap) {
    const pick = Int32Array.from(rows);
    for (let i = 0; i < cap; i++) {
      const j = i + Math.floor(random() * (pick.length - i));
      const t = pick[i];
      pick[i] = pick[j];
      pick[j] = t;
    }
    sample = pick.subarray(0, cap);
  }
  k = Math.min(k, sample.length);
  const centroids = new Float32Array(k * dim);
  // k-means++ seeding on the sample: spreads the seeds, avoids empty clusters.
  const best = new Float64Array(sample.length).fill(Infinity);
  let chosen = sample[Math.floor(random() * sample.length)];
  for (let c = 0; c < k; c++) {
    centroids.set(vectors.subarray(chosen * dim, chosen * dim + dim), c * dim);
    const cv = centroids.subarray(c * dim, c * dim + dim);
    let total = 0;
    for (let i = 0; i < sample.length; i++) {
      const d = Math.max(0, 1 - dot(cv, vectors, sample[i] * dim, dim));
      if (d < best[i]) best[i] = d;
      total += best[i];
    }
    let r = random() * total;
    let next = sample.length - 1;
    for (let i = 0; i < sample.length; i++) {
      r -= best[i];
      if (r <= 0) {
        next = i;
        break;
      }
    }
    chosen = sample[next];
  }
  const assign = new Int32Array(sample.length);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < sample.length; i++) {
      const off = sample[i] * dim;
      const c = nearest(centroids, k, dim, vectors, off);
      assign[i] = c;
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += vectors[off + d];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // Re-seed an empty cluster on a random sample point rather than lose it.
        const p = sample[Math.floor(random() * sample.length)];
        centroids.set(vectors.subarray(p * dim, p * dim + dim), c * dim);
        continue;
      }
      const cv = centroids.subarray(c * dim, c * dim + dim);
      for (let d = 0; d < dim; d++) cv[d] = sums[c * dim + d];
      normalizeInPlace(cv);
    }
  }
  return { centroids, k };
}

export function nearest(centroids: Float32Array, k: number, dim: number, vectors: Float32Array, off: number): number {
  let bestC = 0;
  let bestS = -Infinity;
  for (let c = 0; c < k; c++) {
    const s = dot(centroids.subarray(c * dim, c * dim + dim), vectors, off, dim);
    if (s > bestS) {
      bestS = s;
      bestC = c;
    }
  }
  return bestC;
}
