// Quantizers shared by the build (encode) and the readers (decode/score).
//
// int8, per-vector scale: each vector is stored as round(x / s) with
// s = max|x| / 127, so each coordinate is off by at most s/2 and, for a unit
// query q, |q·x − s·(q·code)| ≤ (s/2)·‖q‖₁: far below the PQ score's error that
// the re-rank exists to correct (docs/decisions.md#int8-item-records).
//
// Product quantization (PQ): the dim coordinates are cut into pqM subspaces of
// dim/pqM, each replaced by the index of its nearest of 256 codebook centroids:
// one byte per subspace. A query is compared against codes through a table of
// its partial dot products with every centroid (asymmetric distance).
import { PQ_CENTROIDS, type ScaledRows } from "./format.ts";

export interface Int8Vector {
  codes: Int8Array;
  scale: number;
}

export function quantizeInt8(v: Float32Array, out: Int8Array = new Int8Array(v.length)): Int8Vector {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > max) max = a;
  }
  // Stored as f32 in the routing blob and as a JSON number in records: round
  // once here, before coding, so the s/2 bound holds for the scale readers use.
  const scale = max > 0 ? Math.fround(max / 127) : 1;
  for (let i = 0; i < v.length; i++) out[i] = Math.max(-127, Math.min(127, Math.round(v[i] / scale)));
  return { codes: out, scale };
}

export function dequantizeInt8(codes: Int8Array, scale: number): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] * scale;
  return out;
}

/** The worst-case error of s·(q·code) against q·x, for a given query. */
export function int8ErrorBound(q: Float32Array, scale: number): number {
  let l1 = 0;
  for (let i = 0; i < q.length; i++) l1 += Math.abs(q[i]);
  return (scale / 2) * l1;
}

const INT16_MAX = 32767;

/** x (rows × cols, row-major) as ScaledRows; quantizing a matrix fromScaledRows gave returns the same values. */
export function toScaledRows(x: Float32Array, rows: number): ScaledRows {
  const cols = x.length / rows;
  if (!Number.isInteger(cols)) throw new Error(`${x.length} values are not ${rows} rows`);
  const values = new Int16Array(x.length);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let j = r * cols; j < (r + 1) * cols; j++) max = Math.max(max, Math.abs(x[j]));
    const step = powerOfTwoStep(max);
    scales[r] = step;
    for (let j = r * cols; j < (r + 1) * cols; j++) values[j] = Math.max(-INT16_MAX, Math.min(INT16_MAX, Math.round(x[j] / step)));
  }
  return { values, scales, cols };
}

/** The smallest power of two that brings max within int16: a scale a product with an int16 gives back exactly. */
function powerOfTwoStep(max: number): number {
  if (!(max > 0)) return 1;
  let step = 2 ** Math.ceil(Math.log2(max / INT16_MAX));
  // log2 may round either way at an exact power.
  if (max / step > INT16_MAX) step *= 2;
  if (max / (step / 2) <= INT16_MAX) step /= 2;
  return step;
}

export function fromScaledRows(s: ScaledRows): Float32Array {
  const out = new Float32Array(s.values.length);
  for (let j = 0; j < out.length; j++) out[j] = s.values[j] * s.scales[Math.floor(j / s.cols)];
  return out;
}

/** x as the routing will store it: what the build must code with. */
export function snapToScaledRows(x: Float32Array, rows: number): Float32Array {
  return fromScaledRows(toScaledRows(x, rows));
}

/** table[m * 256 + c] = q_m · codebook_m[c]; codebook m is row m of `codebooks`. */
export function pqTable(q: Float32Array, codebooks: ScaledRows, pqM: number, out?: Float32Array): Float32Array {
  const sub = q.length / pqM;
  const table = out ?? new Float32Array(pqM * PQ_CENTROIDS);
  const v = codebooks.values;
  for (let m = 0; m < pqM; m++) {
    const qo = m * sub;
    const scale = codebooks.scales[m];
    for (let c = 0; c < PQ_CENTROIDS; c++) {
      const co = (m * PQ_CENTROIDS + c) * sub;
      let s = 0;
      for (let d = 0; d < sub; d++) s += q[qo + d] * v[co + d];
      table[m * PQ_CENTROIDS + c] = s * scale;
    }
  }
  return table;
}

export function pqScore(table: Float32Array, codes: Uint8Array, offset: number, pqM: number): number {
  let s = 0;
  for (let m = 0; m < pqM; m++) s += table[m * PQ_CENTROIDS + codes[offset + m]];
  return s;
}

const identities = new WeakMap<Float32Array | Int16Array, boolean>();

/**
 * Whether a dim × dim rotation is the identity, as small builds store it (they
 * train no OPQ rotation): the routing's int16 rows (queries) or the build's
 * float32 matrix (codes). Checked once per array, so the query and the
 * builder skip a dim² product that would change nothing.
 */
export function isIdentity(rotation: ScaledRows | Float32Array, dim: number): boolean {
  const values = rotation instanceof Float32Array ? rotation : rotation.values;
  let known = identities.get(values);
  if (known === undefined) {
    const scale = (i: number) => (rotation instanceof Float32Array ? 1 : rotation.scales[i]);
    known = values.length === dim * dim && (rotation instanceof Float32Array || rotation.cols === dim);
    for (let i = 0; known && i < dim; i++) for (let j = 0; j < dim; j++) if (values[i * dim + j] * scale(i) !== (i === j ? 1 : 0)) known = false;
    identities.set(values, known);
  }
  return known;
}

/** R·q for a dim × dim rotation R, one row of R per output coordinate. */
export function rotate(q: Float32Array, rotation: ScaledRows, out: Float32Array = new Float32Array(q.length)): Float32Array {
  const dim = q.length;
  if (isIdentity(rotation, dim)) {
    out.set(q);
    return out;
  }
  const v = rotation.values;
  for (let j = 0; j < dim; j++) {
    let s = 0;
    const o = j * dim;
    for (let d = 0; d < dim; d++) s += v[o + d] * q[d];
    out[j] = s * rotation.scales[j];
  }
  return out;
}

/** The query's table against the item quantizer, which codes rotated vectors. */
export function itemTable(q: Float32Array, rotation: ScaledRows, codebooks: ScaledRows, pqM: number): Float32Array {
  return pqTable(rotate(q, rotation), codebooks, pqM);
}
