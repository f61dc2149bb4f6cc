// The build's hot loops over float32 rows: nearest centroids, spherical k-means,
// PQ encoding and exact top-k. Pure functions of their arguments, so the compute
// pool can run them on any thread and get the same bits as the main thread.
import { PQ_CENTROIDS } from "../../lib/index/format.ts";
import { dot, TopK } from "../../lib/index/vector.ts";
import { normalizeInPlace } from "../../lib/model/embed.ts";

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

/**
 * Dot products of row x (at xo) with centroids c0 .. c0+3 at once: the row is
 * read once per four centroids, which is what bounds these loops.
 */
function dot4(x: Float32Array, xo: number, c: Float32Array, c0: number, dim: number, out: Float64Array): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const o0 = c0 * dim, o1 = o0 + dim, o2 = o1 + dim, o3 = o2 + dim;
  for (let d = 0; d < dim; d++) {
    const v = x[xo + d];
    s0 += v * c[o0 + d];
    s1 += v * c[o1 + d];
    s2 += v * c[o2 + d];
    s3 += v * c[o3 + d];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/**
 * The best (and second best) of centroids [from, to) for row x: returns the
 * best index and writes both into `best` (best[0], best[1]; -1 when absent).
 */
export function nearestTwo(x: Float32Array, xo: number, c: Float32Array, from: number, to: number, dim: number, best: Int32Array, bestScore: Float64Array = new Float64Array(2)): number {
  const s = new Float64Array(4);
  best[0] = best[1] = -1;
  bestScore[0] = bestScore[1] = -Infinity;
  const push = (j: number, v: number) => {
    if (v > bestScore[0]) {
      bestScore[1] = bestScore[0];
      best[1] = best[0];
      bestScore[0] = v;
      best[0] = j;
    } else if (v > bestScore[1]) {
      bestScore[1] = v;
      best[1] = j;
    }
  };
  let j = from;
  for (; j + 3 < to; j += 4) {
    dot4(x, xo, c, j, dim, s);
    push(j, s[0]);
    push(j + 1, s[1]);
    push(j + 2, s[2]);
    push(j + 3, s[3]);
  }
  for (; j < to; j++) push(j, dot(x.subarray(xo, xo + dim), c, j * dim, dim));
  return best[0];
}

export interface KMeansOptions {
  iterations: number;
  /** Rows trained on, at most; the rest only get assigned afterwards. */
  sampleCap: number;
  seed: number;
}

/** A sample of `rows` of at most `cap`, by a seeded partial shuffle. */
function sampleRows(rows: Int32Array, cap: number, random: () => number): Int32Array {
  if (rows.length <= cap) return rows;
  const pick = Int32Array.from(rows);
  for (let i = 0; i < cap; i++) {
    const j = i + Math.floor(random() * (pick.length - i));
    const t = pick[i];
    pick[i] = pick[j];
    pick[j] = t;
  }
  return pick.subarray(0, cap);
}

/** k-means++ seeding on the sample: spreads the seeds, avoids empty clusters. */
function seedCentroids(vectors: Float32Array, dim: number, sample: Int32Array, k: number, random: () => number): Float32Array {
  const centroids = new Float32Array(k * dim);
  const best = new Float64Array(sample.length).fill(Infinity);
  let chosen = sample[Math.floor(random() * sample.length)];
  for (let c = 0; c < k; c++) {
    centroids.set(vectors.subarray(chosen * dim, chosen * dim + dim), c * dim);
    let total = 0;
    for (let i = 0; i < sample.length; i++) {
      const d = Math.max(0, 1 - dot(centroids.subarray(c * dim, (c + 1) * dim), vectors, sample[i] * dim, dim));
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
  return centroids;
}

/** Spherical (cosine) k-means of `rows`, trained on a sample: unit-length centroids. */
export function sphericalKMeans(vectors: Float32Array, dim: number, rows: Int32Array, k: number, o: KMeansOptions): Float32Array {
  const random = rng(o.seed);
  const sample = sampleRows(rows, o.sampleCap, random);
  k = Math.max(1, Math.min(k, sample.length));
  const centroids = seedCentroids(vectors, dim, sample, k, random);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  const best = new Int32Array(2);
  for (let it = 0; it < o.iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < sample.length; i++) {
      const off = sample[i] * dim;
      const c = nearestTwo(vectors, off, centroids, 0, k, dim, best);
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += vectors[off + d];
    }
    for (let c = 0; c < k; c++) {
      const cv = centroids.subarray(c * dim, (c + 1) * dim);
      if (counts[c] === 0) {
        // Re-seed an empty cluster on a random sample point rather than lose it.
        const p = sample[Math.floor(random() * sample.length)];
        cv.set(vectors.subarray(p * dim, p * dim + dim));
        continue;
      }
      for (let d = 0; d < dim; d++) cv[d] = sums[c * dim + d];
      normalizeInPlace(cv);
    }
  }
  return centroids;
}

/** The nearest of a subspace's 256 codebook centroids to x[xo .. xo+sub) (squared L2, via norms). */
export function nearestCode(x: Float32Array, xo: number, cb: Float32Array, norms: Float32Array, sub: number): number {
  let best = 0;
  let bestD = Infinity;
  if (sub === 8) {
    const x0 = x[xo], x1 = x[xo + 1], x2 = x[xo + 2], x3 = x[xo + 3], x4 = x[xo + 4], x5 = x[xo + 5], x6 = x[xo + 6], x7 = x[xo + 7];
    for (let c = 0, co = 0; c < PQ_CENTROIDS; c++, co += 8) {
      const dotv = x0 * cb[co] + x1 * cb[co + 1] + x2 * cb[co + 2] + x3 * cb[co + 3] + x4 * cb[co + 4] + x5 * cb[co + 5] + x6 * cb[co + 6] + x7 * cb[co + 7];
      const dist = norms[c] - 2 * dotv;
      if (dist < bestD) {
        bestD = dist;
        best = c;
      }
    }
    return best;
  }
  for (let c = 0; c < PQ_CENTROIDS; c++) {
    let dotv = 0;
    for (let d = 0; d < sub; d++) dotv += x[xo + d] * cb[c * sub + d];
    const dist = norms[c] - 2 * dotv;
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best;
}

/** Encodes one row at x[xo..] into out[oo..] (pqM bytes); the codebooks' norms are computed once. */
export function pqEncoder(codebooks: Float32Array, pqM: number, dim: number): (x: Float32Array, xo: number, out: Uint8Array, oo: number) => void {
  const sub = dim / pqM;
  const norms = new Float32Array(pqM * PQ_CENTROIDS);
  for (let i = 0; i < pqM * PQ_CENTROIDS; i++) {
    let s = 0;
    for (let d = 0; d < sub; d++) s += codebooks[i * sub + d] ** 2;
    norms[i] = s;
  }
  const books = Array.from({ length: pqM }, (_, m) => codebooks.subarray(m * PQ_CENTROIDS * sub, (m + 1) * PQ_CENTROIDS * sub));
  const normsOf = Array.from({ length: pqM }, (_, m) => norms.subarray(m * PQ_CENTROIDS, (m + 1) * PQ_CENTROIDS));
  return (x, xo, out, oo) => {
    for (let m = 0; m < pqM; m++) out[oo + m] = nearestCode(x, xo + m * sub, books[m], normsOf[m], sub);
  };
}

/** Each row's PQ code (nearest codebook centroid in every subspace). */
export function pqEncodeRows(vectors: Float32Array, dim: number, start: number, end: number, codebooks: Float32Array, pqM: number): Uint8Array {
  const encode = pqEncoder(codebooks, pqM, dim);
  const out = new Uint8Array((end - start) * pqM);
  for (let i = start; i < end; i++) encode(vectors, i * dim, out, (i - start) * pqM);
  return out;
}

/** Exact top-k of every query over rows [start, end): ids and scores, query-major. */
export function exactTopKRows(vectors: Float32Array, dim: number, start: number, end: number, queries: Float32Array, k: number): { ids: Int32Array; scores: Float32Array } {
  const nq = queries.length / dim;
  const tops = Array.from({ length: nq }, () => new TopK(k));
  const s = new Float64Array(4);
  for (let i = start; i < end; i++) {
    const xo = i * dim;
    let q = 0;
    // Queries play the centroids' part: four at a time against one row.
    for (; q + 3 < nq; q += 4) {
      dot4(vectors, xo, queries, q, dim, s);
      for (let j = 0; j < 4; j++) if (s[j] > tops[q + j].threshold) tops[q + j].push(i, s[j]);
    }
    for (; q < nq; q++) {
      const v = dot(queries.subarray(q * dim, (q + 1) * dim), vectors, xo, dim);
      if (v > tops[q].threshold) tops[q].push(i, v);
    }
  }
  const ids = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  tops.forEach((t, q) =>
    t.entries().forEach((e, j) => {
      ids[q * k + j] = e.id;
      scores[q * k + j] = e.score;
    }),
  );
  return { ids, scores };
}
