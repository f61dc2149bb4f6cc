// The build's hot loops over float32 rows: nearest centroids, spherical k-means,
// PQ encoding and exact top-k. Pure functions of their arguments, so the compute
// pool can run them on any thread and get the same bits as the main thread.
import { GEMM_WASM_BASE64 } from "./gemm-wasm.ts";
import { PQ_CENTROIDS } from "../../../lib/index/format.ts";
import { concat } from "../../../lib/index/concat.ts";
import { dot, TopK } from "../../../lib/index/vector.ts";
import { isIdentity } from "../../../lib/index/quantize.ts";
import { normalizeInPlace } from "../../../lib/model/embed.ts";

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

/** Rows scored per block: a block's scores (BLOCK_ROWS × k floats) stay in cache. */
export const BLOCK_ROWS = 64;

/**
 * out[i·k + j] = X[xo + i·dim ..] · C[j·dim ..] for i < rows, j < k: the build's
 * one matrix product. Rows in fours and centroids in pairs go to gemm.wat, a
 * WebAssembly SIMD kernel summing in float32; the rest, and dims that are not a
 * multiple of 4, to gemmJs (docs/decisions.md#build-kernels-and-readers).
 */
export function gemmNT(X: Float32Array, xo: number, rows: number, C: Float32Array, k: number, dim: number, out: Float32Array): void {
  const r4 = rows & ~3;
  const k2 = k & ~1;
  if (r4 === 0 || k2 === 0 || dim % 4 !== 0) return gemmJs(X, xo, rows, C, k, dim, out, 0, 0);
  simdGemm(X, xo, r4, C, k2, dim, out, k);
  if (k2 < k) gemmJs(X, xo, r4, C, k, dim, out, 0, k2);
  if (r4 < rows) gemmJs(X, xo, rows, C, k, dim, out, r4, 0);
}

/** gemm.wat's instance and memory, one per thread (each thread loads this module). */
let simd: { gemm: (x: number, rows: number, c: number, k: number, dim: number, out: number) => void; memory: WebAssembly.Memory } | null = null;

function simdGemm(X: Float32Array, xo: number, rows: number, C: Float32Array, k: number, dim: number, out: Float32Array, ldo: number): void {
  if (!simd) {
    // Node compiles and instantiates a module this small synchronously (workerd would not, but this runs only in the build).
    const Instance = WebAssembly.Instance as unknown as new (m: WebAssembly.Module) => WebAssembly.Instance;
    const Module = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;
    const instance = new Instance(new Module(Buffer.from(GEMM_WASM_BASE64, "base64")));
    simd = instance.exports as unknown as NonNullable<typeof simd>;
  }
  const xFloats = rows * dim;
  const cFloats = k * dim;
  const need = (xFloats + cFloats + rows * k) * 4;
  const have = simd.memory.buffer.byteLength;
  if (need > have) simd.memory.grow(Math.ceil((need - have) / 65536));
  const f = new Float32Array(simd.memory.buffer);
  f.set(X.subarray(xo, xo + xFloats), 0);
  f.set(C.subarray(0, cFloats), xFloats);
  const o = xFloats + cFloats;
  simd.gemm(0, rows, xFloats * 4, k, dim, o * 4);
  if (ldo === k) out.set(f.subarray(o, o + rows * k));
  else for (let i = 0; i < rows; i++) out.set(f.subarray(o + i * k, o + (i + 1) * k), i * ldo);
}

/**
 * The same product in JS, for rows from `fromRow` and centroids from `fromCol`:
 * 4 × 4 register tiles load each row and centroid value once per 16
 * multiply-adds, which beats a row-at-a-time dot.
 */
function gemmJs(X: Float32Array, xo: number, rows: number, C: Float32Array, k: number, dim: number, out: Float32Array, fromRow: number, fromCol: number): void {
  const r4 = fromRow + ((rows - fromRow) & ~3);
  const k4 = fromCol + ((k - fromCol) & ~3);
  for (let i = fromRow; i < r4; i += 4) {
    const x0 = xo + i * dim, x1 = x0 + dim, x2 = x1 + dim, x3 = x2 + dim;
    for (let j = fromCol; j < k4; j += 4) {
      const c0 = j * dim, c1 = c0 + dim, c2 = c1 + dim, c3 = c2 + dim;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let t = 0; t < dim; t++) {
        const a0 = X[x0 + t], a1 = X[x1 + t], a2 = X[x2 + t], a3 = X[x3 + t];
        const b0 = C[c0 + t], b1 = C[c1 + t], b2 = C[c2 + t], b3 = C[c3 + t];
        s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
        s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
        s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
        s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
      }
      const o0 = i * k + j, o1 = o0 + k, o2 = o1 + k, o3 = o2 + k;
      out[o0] = s00; out[o0 + 1] = s01; out[o0 + 2] = s02; out[o0 + 3] = s03;
      out[o1] = s10; out[o1 + 1] = s11; out[o1 + 2] = s12; out[o1 + 3] = s13;
      out[o2] = s20; out[o2 + 1] = s21; out[o2 + 2] = s22; out[o2 + 3] = s23;
      out[o3] = s30; out[o3 + 1] = s31; out[o3 + 2] = s32; out[o3 + 3] = s33;
    }
    for (let j = k4; j < k; j++) for (let r = 0; r < 4; r++) out[(i + r) * k + j] = dot(C.subarray(j * dim, (j + 1) * dim), X, xo + (i + r) * dim, dim);
  }
  for (let i = r4; i < rows; i++) for (let j = fromCol; j < k; j++) out[i * k + j] = dot(C.subarray(j * dim, (j + 1) * dim), X, xo + i * dim, dim);
}

/** Rows copied contiguously (k-means samples, a group's members), so gemmNT can stream them. */
export function gatherRows(vectors: Float32Array, dim: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(vectors.subarray(rows[i] * dim, (rows[i] + 1) * dim), i * dim);
  return out;
}

/**
 * For each of `rows` contiguous rows of X (from row `first`), the best two of
 * centroids C (k of them): ids into best2[2·i], best2[2·i+1] (-1 when k < 2) and
 * their scores into score2, block by block.
 */
export function topTwo(X: Float32Array, first: number, rows: number, C: Float32Array, k: number, dim: number, best2: Int32Array, score2: Float32Array): void {
  const block = new Float32Array(BLOCK_ROWS * k);
  for (let b = 0; b < rows; b += BLOCK_ROWS) {
    const n = Math.min(BLOCK_ROWS, rows - b);
    gemmNT(X, (first + b) * dim, n, C, k, dim, block);
    for (let i = 0; i < n; i++) {
      let b0 = -1, b1 = -1, v0 = -Infinity, v1 = -Infinity;
      for (let j = 0; j < k; j++) {
        const v = block[i * k + j];
        if (v > v0) {
          v1 = v0;
          b1 = b0;
          v0 = v;
          b0 = j;
        } else if (v > v1) {
          v1 = v;
          b1 = j;
        }
      }
      const o = (b + i) * 2;
      best2[o] = b0;
      best2[o + 1] = b1;
      score2[o] = v0;
      score2[o + 1] = v1;
    }
  }
}

export interface KMeansOptions {
  iterations: number;
  /** Rows trained on per centroid, at most; the rest only get assigned afterwards. */
  samplesPerCentroid: number;
  seed: number;
}

/**
 * Above this many centroids, treeKMeans first splits the rows into √k clusters
 * and runs k-means within each: an iteration then costs rows · 2√k dot
 * products instead of rows · k (at 1.2M items, 223 leaves a group: ~7× less).
 */
export const FLAT_KMEANS_MAX = 64;

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
  const sample = sampleRows(rows, k * o.samplesPerCentroid, random);
  k = Math.max(1, Math.min(k, sample.length));
  const centroids = seedCentroids(vectors, dim, sample, k, random);
  const S = gatherRows(vectors, dim, sample);
  const m = sample.length;
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  const best2 = new Int32Array(m * 2);
  const score2 = new Float32Array(m * 2);
  for (let it = 0; it < o.iterations; it++) {
    topTwo(S, 0, m, centroids, k, dim, best2, score2);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < m; i++) {
      const c = best2[i * 2];
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += S[i * dim + d];
    }
    for (let c = 0; c < k; c++) {
      const cv = centroids.subarray(c * dim, (c + 1) * dim);
      if (counts[c] === 0) {
        // Re-seed an empty cluster on a random sample point rather than lose it.
        const p = Math.floor(random() * m);
        cv.set(S.subarray(p * dim, (p + 1) * dim));
        continue;
      }
      for (let d = 0; d < dim; d++) cv[d] = sums[c * dim + d];
      normalizeInPlace(cv);
    }
  }
  return centroids;
}

/** k split in proportion to sizes, each share ≥ 1 (largest remainders get the rest); sums to k when k ≥ sizes.length. */
export function proportionalShares(sizes: number[], k: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const exact = sizes.map((s) => Math.max(1, (k * s) / total));
  const shares = exact.map(Math.floor);
  let left = k - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let x = 0; left > 0 && x < order.length; x++, left--) shares[order[x].i]++;
  return shares;
}

/**
 * k centroids for `rows`, by flat k-means up to FLAT_KMEANS_MAX, above it by
 * k-means into √k clusters, then each cluster's share of the k (in proportion to
 * its rows) by flat k-means on its rows.
 */
export function treeKMeans(vectors: Float32Array, dim: number, rows: Int32Array, k: number, o: KMeansOptions): Float32Array {
  if (k <= FLAT_KMEANS_MAX || rows.length <= k) return sphericalKMeans(vectors, dim, rows, k, o);
  const top = Math.round(Math.sqrt(k));
  const coarse = sphericalKMeans(vectors, dim, rows, top, o);
  const c = coarse.length / dim;
  const best = new Int32Array(rows.length * 2);
  topTwo(gatherRows(vectors, dim, rows), 0, rows.length, coarse, c, dim, best, new Float32Array(rows.length * 2));
  const members: number[][] = Array.from({ length: c }, () => []);
  rows.forEach((r, i) => members[best[i * 2]].push(r));
  const live = members.map((m, j) => ({ m, j })).filter(({ m }) => m.length > 0);
  const shares = proportionalShares(live.map(({ m }) => m.length), k);
  const parts = live.map(({ m, j }, i) => sphericalKMeans(vectors, dim, Int32Array.from(m), shares[i], { ...o, seed: o.seed + 1 + j }));
  return concat(parts);
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
  if (sub === 16) return nearestCode16(x, xo, cb, norms);
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

/** nearestCode of points [start, end) of `points` (`sub` floats each, contiguous). */
export function nearestCodes(points: Float32Array, start: number, end: number, sub: number, cb: Float32Array, norms: Float32Array): Uint8Array {
  const out = new Uint8Array(end - start);
  for (let i = start; i < end; i++) out[i - start] = nearestCode(points, i * sub, cb, norms, sub);
  return out;
}

/** nearestCode for 16-dimensional subspaces (pqM 32 of 512), unrolled: 3× the generic loop. */
function nearestCode16(x: Float32Array, xo: number, cb: Float32Array, norms: Float32Array): number {
  const x0 = x[xo], x1 = x[xo + 1], x2 = x[xo + 2], x3 = x[xo + 3], x4 = x[xo + 4], x5 = x[xo + 5], x6 = x[xo + 6], x7 = x[xo + 7];
  const x8 = x[xo + 8], x9 = x[xo + 9], x10 = x[xo + 10], x11 = x[xo + 11], x12 = x[xo + 12], x13 = x[xo + 13], x14 = x[xo + 14], x15 = x[xo + 15];
  let best = 0;
  let bestD = Infinity;
  for (let c = 0, co = 0; c < PQ_CENTROIDS; c++, co += 16) {
    const dotv =
      x0 * cb[co] + x1 * cb[co + 1] + x2 * cb[co + 2] + x3 * cb[co + 3] + x4 * cb[co + 4] + x5 * cb[co + 5] + x6 * cb[co + 6] + x7 * cb[co + 7] +
      x8 * cb[co + 8] + x9 * cb[co + 9] + x10 * cb[co + 10] + x11 * cb[co + 11] + x12 * cb[co + 12] + x13 * cb[co + 13] + x14 * cb[co + 14] + x15 * cb[co + 15];
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

/** Rows from their PQ codes: each subspace's codebook centroid. */
export function pqDecodeRows(codes: Uint8Array, codebooks: Float32Array, pqM: number, dim: number): Float32Array {
  const n = codes.length / pqM;
  const sub = dim / pqM;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < pqM; m++) {
      const c = (m * PQ_CENTROIDS + codes[i * pqM + m]) * sub;
      out.set(codebooks.subarray(c, c + sub), i * dim + m * sub);
    }
  }
  return out;
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
  const block = new Float32Array(BLOCK_ROWS * nq);
  for (let b = start; b < end; b += BLOCK_ROWS) {
    const n = Math.min(BLOCK_ROWS, end - b);
    // Queries play the centroids' part.
    gemmNT(vectors, b * dim, n, queries, nq, dim, block);
    for (let i = 0; i < n; i++) for (let q = 0; q < nq; q++) {
      const v = block[i * nq + q];
      if (v > tops[q].threshold) tops[q].push(b + i, v);
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

/**
 * For `rows` (primary leaf `primary[i]` each), the leaf among [from, to) with
 * the lowest SOAR cost, primary excluded: ids (−1 when none) and costs.
 */
export function soarBest(
  vectors: Float32Array,
  dim: number,
  rows: Int32Array,
  primary: Int32Array,
  leafCentroids: Float32Array,
  from: number,
  to: number,
  lambda: number,
): { ids: Int32Array; costs: Float32Array } {
  const n = rows.length;
  const k = to - from;
  const leaves = leafCentroids.subarray(from * dim, to * dim);
  const ids = new Int32Array(n).fill(-1);
  const costs = new Float32Array(n).fill(Infinity);
  const xs = new Float32Array(BLOCK_ROWS * k);
  const cs = new Float32Array(BLOCK_ROWS * k);
  for (let b = 0; b < n; b += BLOCK_ROWS) {
    const m = Math.min(BLOCK_ROWS, n - b);
    const X = gatherRows(vectors, dim, rows.subarray(b, b + m));
    const P = gatherRows(leafCentroids, dim, primary.subarray(b, b + m));
    gemmNT(X, 0, m, leaves, k, dim, xs);
    gemmNT(P, 0, m, leaves, k, dim, cs);
    for (let i = 0; i < m; i++) {
      let xc1 = 0;
      for (let d = 0; d < dim; d++) xc1 += X[i * dim + d] * P[i * dim + d];
      // Unit vectors: |x − c|² = 2 − 2 x·c and (x − c)·(x − c') = 1 − x·c − x·c' + c·c'.
      const r2 = Math.max(1e-9, 2 - 2 * xc1);
      const own = primary[b + i] - from;
      for (let j = 0; j < k; j++) {
        if (j === own) continue;
        const xc = xs[i * k + j];
        const inner = 1 - xc1 - xc + cs[i * k + j];
        const cost = 2 - 2 * xc + (lambda * inner * inner) / r2;
        if (cost < costs[b + i]) {
          costs[b + i] = cost;
          ids[b + i] = from + j;
        }
      }
    }
  }
  return { ids, costs };
}

/** PQ codes of rows [start, end) of `vectors` after rotation, a block at a time so the rotated copy stays small. */
export function pqEncodeRotated(vectors: Float32Array, dim: number, start: number, end: number, rotation: Float32Array, codebooks: Float32Array, pqM: number): Uint8Array {
  const out = new Uint8Array((end - start) * pqM);
  const block = new Float32Array(BLOCK_ROWS * dim);
  const encode = pqEncoder(codebooks, pqM, dim);
  if (isIdentity(rotation, dim)) {
    for (let i = start; i < end; i++) encode(vectors, i * dim, out, (i - start) * pqM);
    return out;
  }
  for (let b = start; b < end; b += BLOCK_ROWS) {
    const m = Math.min(BLOCK_ROWS, end - b);
    gemmNT(vectors, b * dim, m, rotation, dim, dim, block);
    for (let i = 0; i < m; i++) encode(block, i * dim, out, (b - start + i) * pqM);
  }
  return out;
}
