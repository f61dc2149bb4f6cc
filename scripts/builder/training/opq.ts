// Optimized product quantization (OPQ, non-parametric: Ge, He, Ke, Sun, "Optimized
// Product Quantization", TPAMI 2014). PQ cuts the coordinates into subspaces as
// they come; a learned rotation R first turns each vector x into R·x so that the
// subspaces share the variance and their correlations are captured inside each
// codebook. Training alternates, on a sample:
//   1. PQ codebooks for the rotated sample, and its reconstruction Y;
//   2. the rotation that best maps the sample onto Y: the orthogonal Procrustes
//      problem min ‖X·A − Y‖ over orthogonal A, solved by A = polar(Xᵀ·Y), R = Aᵀ.
// Rotating preserves every dot product, so the tree, records and re-rank are
// untouched: only the item codes and the query's PQ table see R. The rotation
// lowers the codes' distortion, so shorter codes rank as well as longer ones did
// without it, and recall rises at the same shard bytes (docs/decisions.md#opq-rotation).
import { BLOCK_ROWS, gatherRows, gemmNT, pqDecodeRows, pqEncodeRows, rng } from "./kernels.ts";
import { inlineAssigner, trainCodebooks, type Assigner } from "./pq.ts";
import { isIdentity } from "../../../lib/index/quantize.ts";

export interface RotationOptions {
  pqM: number;
  /** Alternations of codebooks and rotation: each costs a fixed amount and lowers the distortion by less than the last. */
  rounds: number;
  /** Rows trained on: cost is O(sample · dim²) a round, whatever the corpus size. */
  sample: number;
  /** k-means iterations of the codebooks inside each round. */
  kmeansIterations: number;
  seed: number;
}

/** The identity: what an index too small to train a rotation stores. */
export function identityRotation(dim: number): Float32Array {
  const r = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) r[i * dim + i] = 1;
  return r;
}

/** rows·Rᵀ, i.e. R·x for every row x: R is row-major, row j the j-th new axis. */
export function rotateRows(rows: Float32Array, dim: number, rotation: Float32Array): Float32Array {
  if (isIdentity(rotation, dim)) return rows.slice();
  const n = rows.length / dim;
  const out = new Float32Array(rows.length);
  const block = new Float32Array(BLOCK_ROWS * dim);
  for (let b = 0; b < n; b += BLOCK_ROWS) {
    const m = Math.min(BLOCK_ROWS, n - b);
    gemmNT(rows, b * dim, m, rotation, dim, dim, block);
    out.set(block.subarray(0, m * dim), b * dim);
  }
  return out;
}

/**
 * A rotation for `vectors` (n rows): the identity when the sample is smaller
 * than dim, since Xᵀ·Y is then singular and the rotation undetermined.
 */
export async function trainRotation(vectors: Float32Array, dim: number, n: number, o: RotationOptions, assign: Assigner = inlineAssigner): Promise<Float32Array> {
  const size = Math.min(n, o.sample);
  if (size < 2 * dim || o.rounds <= 0) return identityRotation(dim);
  const X = gatherRows(vectors, dim, sampleRows(n, size, o.seed));
  const Xt = transpose(X, size, dim);
  let rotation = identityRotation(dim);
  for (let round = 0; round < o.rounds; round++) {
    const rotated = rotateRows(X, dim, rotation);
    const codebooks = await trainCodebooks(rotated, dim, size, o.pqM, { sample: size, iterations: o.kmeansIterations, seed: o.seed + round }, assign);
    const Y = pqDecodeRows(pqEncodeRows(rotated, dim, 0, size, codebooks, o.pqM), codebooks, o.pqM, dim);
    const XtY = new Float32Array(dim * dim);
    gemmNT(Xt, 0, dim, transpose(Y, size, dim), dim, size, XtY);
    rotation = transposeSquare(polar(XtY, dim), dim);
  }
  return rotation;
}

export function sampleRows(n: number, size: number, seed: number): Int32Array {
  if (size === n) return Int32Array.from({ length: n }, (_, i) => i);
  const random = rng(seed);
  return Int32Array.from({ length: size }, () => Math.floor(random() * n));
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

function transposeSquare(a: Float64Array, n: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = a[i * n + j];
  return out;
}

/** Newton's iterations for the polar factor converge quadratically once scaled; 20 is far more than a 512 × 512 sample matrix needs. */
const POLAR_MAX_ITERATIONS = 20;
const POLAR_TOLERANCE = 1e-10;

/**
 * The orthogonal factor U of M = U·H (U·Uᵀ = I), by scaled Newton iteration
 * (Higham): U ← ½(ζU + ζ⁻¹U⁻ᵀ), ζ = (‖U⁻¹‖_F / ‖U‖_F)^½. It is the rotation
 * closest to M; M must be non-singular.
 */
export function polar(m: Float32Array, n: number): Float64Array {
  let u = Float64Array.from(m);
  for (let it = 0; it < POLAR_MAX_ITERATIONS; it++) {
    const inv = invert(u, n);
    const zeta = Math.sqrt(frobenius(inv) / frobenius(u));
    const next = new Float64Array(n * n);
    let change = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = 0.5 * (zeta * u[i * n + j] + inv[j * n + i] / zeta);
        change += (v - u[i * n + j]) ** 2;
        next[i * n + j] = v;
      }
    }
    u = next;
    if (change < POLAR_TOLERANCE * n) break;
  }
  return u;
}

function frobenius(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Gauss–Jordan elimination with partial pivoting. */
function invert(a: Float64Array, n: number): Float64Array {
  const w = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(w[r * n + col]) > Math.abs(w[pivot * n + col])) pivot = r;
    if (w[pivot * n + col] === 0) throw new Error("OPQ: the sample's cross-covariance is singular");
    if (pivot !== col) {
      swapRows(w, n, pivot, col);
      swapRows(inv, n, pivot, col);
    }
    const p = 1 / w[col * n + col];
    scaleRow(w, n, col, p);
    scaleRow(inv, n, col, p);
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = w[r * n + col];
      if (f === 0) continue;
      const ro = r * n;
      const co = col * n;
      for (let j = 0; j < n; j++) {
        w[ro + j] -= f * w[co + j];
        inv[ro + j] -= f * inv[co + j];
      }
    }
  }
  return inv;
}

function swapRows(a: Float64Array, n: number, i: number, j: number): void {
  for (let k = 0; k < n; k++) {
    const t = a[i * n + k];
    a[i * n + k] = a[j * n + k];
    a[j * n + k] = t;
  }
}

function scaleRow(a: Float64Array, n: number, i: number, f: number): void {
  for (let k = 0; k < n; k++) a[i * n + k] *= f;
}

