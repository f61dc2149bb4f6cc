// Distance kernels shared by the build's self-check and the Worker's re-ranker.
// All vectors are L2-normalised, so similarity is a plain dot product (cosine).

/**
 * Dot product of `a` with the `dim` values of `b` from `bOffset`: float rows, or
 * int8 codes (dotInt8). One kernel for both, unrolled by four.
 */
export function dot(a: Float32Array, b: Float32Array | Int8Array, bOffset = 0, dim = a.length): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    s0 += a[i] * b[bOffset + i];
    s1 += a[i + 1] * b[bOffset + i + 1];
    s2 += a[i + 2] * b[bOffset + i + 2];
    s3 += a[i + 3] * b[bOffset + i + 3];
  }
  for (; i < dim; i++) s0 += a[i] * b[bOffset + i];
  return s0 + s1 + s2 + s3;
}

/** Dot product of a float query with an int8 code stored at `offset` in `codes` (the caller applies the code's scale). */
export function dotInt8(q: Float32Array, codes: Int8Array, offset: number, dim: number): number {
  return dot(q, codes, offset, dim);
}

/** Keeps the best `k` (id, score) pairs seen; tiny k, so insertion beats a heap. */
export class TopK {
  readonly ids: Float64Array;
  readonly scores: Float64Array;
  size = 0;
  constructor(readonly k: number) {
    this.ids = new Float64Array(k);
    this.scores = new Float64Array(k).fill(-Infinity);
  }
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.scores[this.k - 1];
  }
  push(id: number, score: number): void {
    if (this.size === this.k && score <= this.scores[this.k - 1]) return;
    let i = this.size < this.k ? this.size++ : this.k - 1;
    while (i > 0 && this.scores[i - 1] < score) {
      this.scores[i] = this.scores[i - 1];
      this.ids[i] = this.ids[i - 1];
      i--;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }
  entries(): Array<{ id: number; score: number }> {
    const out = [];
    for (let i = 0; i < this.size; i++) out.push({ id: this.ids[i], score: this.scores[i] });
    return out;
  }
}
