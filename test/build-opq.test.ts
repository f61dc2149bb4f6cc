// The item quantizer's learned rotation (scripts/builder/training/opq.ts): it is a rotation,
// it lowers PQ distortion where subspaces are unbalanced, and readers score
// queries through the same rotation the build coded items with.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComputePool, INLINE_ROWS } from "../scripts/builder/pools/compute-pool.ts";
import { identityRotation, polar, rotateRows, trainRotation } from "../scripts/builder/training/opq.ts";
import { inlineAssigner, poolAssigner, trainCodebooks } from "../scripts/builder/training/pq.ts";
import { pqEncodeRotated, pqEncodeRows, rng } from "../scripts/builder/training/kernels.ts";
import { isIdentity, itemTable, pqScore, pqTable, rotate, snapToScaledRows, toScaledRows } from "../lib/index/quantize.ts";
import { PQ_CENTROIDS } from "../lib/index/format.ts";
import { gaussian, normalize } from "./helpers/build-fixtures.ts";

const DIM = 64;
const PQM = 8;

/** Unit vectors whose variance sits in a few directions spread over every coordinate: what PQ's fixed subspaces split badly. */
function skewedVectors(n: number, seed: number): Float32Array {
  const g = gaussian(rng(seed));
  const directions = 6;
  const basis = Float32Array.from({ length: directions * DIM }, () => g());
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(DIM);
    for (let k = 0; k < directions; k++) {
      const w = g() * (directions - k);
      for (let d = 0; d < DIM; d++) v[d] += w * basis[k * DIM + d];
    }
    for (let d = 0; d < DIM; d++) v[d] += 0.3 * g();
    out.set(normalize(v), i * DIM);
  }
  return out;
}

function maxOffIdentity(r: Float32Array | Float64Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += r[i * n + k] * r[j * n + k];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

async function distortion(vectors: Float32Array, n: number, rotation: Float32Array): Promise<number> {
  const rotated = rotateRows(vectors, DIM, rotation);
  const codebooks = await trainCodebooks(rotated, DIM, n, PQM, { sample: n, iterations: 8, seed: 5 });
  const codes = pqEncodeRotated(vectors, DIM, 0, n, rotation, codebooks, PQM);
  const sub = DIM / PQM;
  let err = 0;
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < PQM; m++) {
      const c = (m * PQ_CENTROIDS + codes[i * PQM + m]) * sub;
      for (let d = 0; d < sub; d++) err += (rotated[i * DIM + m * sub + d] - codebooks[c + d]) ** 2;
    }
  }
  return err / n;
}

describe("polar", () => {
  it("recovers the rotation of Q·diag(s), and is orthogonal", () => {
    const n = 12;
    const r = rng(3);
    // A rotation from the polar factor of a random matrix, then stretched.
    const q = polar(Float32Array.from({ length: n * n }, () => r() * 2 - 1), n);
    expect(maxOffIdentity(q, n)).toBeLessThan(1e-9);
    const stretched = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) stretched[i * n + j] = q[i * n + j] * (1 + j);
    const back = polar(stretched, n);
    for (let i = 0; i < n * n; i++) expect(back[i]).toBeCloseTo(q[i], 5);
  });
});

describe("trainRotation", () => {
  const n = 4000;
  const vectors = skewedVectors(n, 11);
  let rotation: Float32Array;
  beforeAll(async () => {
    rotation = await trainRotation(vectors, DIM, n, { pqM: PQM, rounds: 5, sample: n, kmeansIterations: 6, seed: 2 });
  });

  it("is a rotation: R·Rᵀ = I, and dot products survive it", () => {
    expect(maxOffIdentity(rotation, DIM)).toBeLessThan(1e-4);
    const a = vectors.subarray(0, DIM);
    const b = vectors.subarray(DIM, 2 * DIM);
    // As the routing stores it (int16 rows), the rotation a query meets.
    const ra = rotate(a, toScaledRows(rotation, DIM));
    const rb = rotate(b, toScaledRows(rotation, DIM));
    let before = 0;
    let after = 0;
    for (let d = 0; d < DIM; d++) {
      before += a[d] * b[d];
      after += ra[d] * rb[d];
    }
    expect(after).toBeCloseTo(before, 4);
  });

  it("cuts PQ distortion on vectors whose variance crosses the subspaces", async () => {
    const plain = await distortion(vectors, n, identityRotation(DIM));
    const learned = await distortion(vectors, n, rotation);
    expect(learned).toBeLessThan(0.8 * plain);
  });

  it("is the identity when the sample is too small to determine one", async () => {
    const few = await trainRotation(vectors, DIM, DIM, { pqM: PQM, rounds: 5, sample: DIM, kmeansIterations: 2, seed: 2 });
    expect(Array.from(few)).toEqual(Array.from(identityRotation(DIM)));
  });

  it("readers score a query through the rotation items were coded with", async () => {
    const snapped = snapToScaledRows(rotation, DIM);
    const rotated = rotateRows(vectors, DIM, snapped);
    const codebooks = snapToScaledRows(await trainCodebooks(rotated, DIM, n, PQM, { sample: n, iterations: 4, seed: 5 }), PQM);
    const codes = pqEncodeRotated(vectors, DIM, 0, 1, snapped, codebooks, PQM);
    const [R, C] = [toScaledRows(snapped, DIM), toScaledRows(codebooks, PQM)];
    const q = vectors.subarray(DIM, 2 * DIM);
    const viaReader = pqScore(itemTable(q, R, C, PQM), codes, 0, PQM);
    const byHand = pqScore(pqTable(rotate(q, R), C, PQM), codes, 0, PQM);
    expect(viaReader).toBe(byHand);
    // The int16 rows score as the float32 values the build coded with, to float rounding.
    let exact = 0;
    const rq = new Float64Array(DIM);
    for (let j = 0; j < DIM; j++) for (let d = 0; d < DIM; d++) rq[j] += snapped[j * DIM + d] * q[d];
    for (let m = 0; m < PQM; m++) for (let d = 0; d < DIM / PQM; d++) exact += rq[m * (DIM / PQM) + d] * codebooks[(m * PQ_CENTROIDS + codes[m]) * (DIM / PQM) + d];
    expect(Math.abs(viaReader - exact)).toBeLessThan(1e-5);
    // …and not through the raw query, which would score against the wrong axes.
    const unrotated = pqScore(pqTable(q, C, PQM), codes, 0, PQM);
    expect(Math.abs(unrotated - viaReader)).toBeGreaterThan(1e-3);
  });
});

describe("the identity rotation (small builds train none)", () => {
  const n = 400;
  const vectors = skewedVectors(n, 11);

  it("is recognised, and a rotation one entry off it is not", () => {
    const identity = identityRotation(DIM);
    expect(isIdentity(identity, DIM)).toBe(true);
    const nearly = identityRotation(DIM);
    nearly[3 * DIM + 5] = 1e-7;
    expect(isIdentity(nearly, DIM)).toBe(false);
    expect(isIdentity(identityRotation(DIM), DIM / 2)).toBe(false);
  });

  it("skipping the product changes no byte: queries, rows and codes are what the full product gives", async () => {
    const identity = identityRotation(DIM);
    // The same matrix, one entry flipped and back, is a new array: the full product runs for it.
    const full = identityRotation(DIM);
    full[1] = 1e-9;
    isIdentity(full, DIM);
    full[1] = 0;
    expect(isIdentity(full, DIM)).toBe(false);
    const q = vectors.subarray(0, DIM);
    const [identityRows, fullRows] = [toScaledRows(identity, DIM), toScaledRows(identity, DIM)];
    fullRows.values[1] = 1;
    isIdentity(fullRows, DIM);
    fullRows.values[1] = 0;
    expect(isIdentity(identityRows, DIM)).toBe(true);
    expect(isIdentity(fullRows, DIM)).toBe(false);
    expect(Array.from(rotate(q, identityRows))).toEqual(Array.from(rotate(q, fullRows)));
    expect(Array.from(rotateRows(vectors, DIM, identity))).toEqual(Array.from(rotateRows(vectors, DIM, full)));
    const codebooks = await trainCodebooks(vectors, DIM, n, PQM, { sample: n, iterations: 3, seed: 5 });
    const skipped = pqEncodeRotated(vectors, DIM, 0, n, identity, codebooks, PQM);
    expect(Buffer.from(skipped).equals(Buffer.from(pqEncodeRotated(vectors, DIM, 0, n, full, codebooks, PQM)))).toBe(true);
    expect(Buffer.from(skipped).equals(Buffer.from(pqEncodeRows(vectors, DIM, 0, n, codebooks, PQM)))).toBe(true);
  });
});

describe("codebook training stops once the codes settle", () => {
  const n = 2000;
  const vectors = skewedVectors(n, 13);
  const base = { sample: n, iterations: 8, seed: 3 };
  const bytes = (cb: Float32Array) => Buffer.from(cb.buffer);

  it("a share of 1 stops after the first update, a share of 0 runs every iteration", async () => {
    const settledAtOnce = await trainCodebooks(vectors, DIM, n, PQM, { ...base, settled: 1 });
    const oneIteration = await trainCodebooks(vectors, DIM, n, PQM, { ...base, iterations: 1 });
    expect(bytes(settledAtOnce).equals(bytes(oneIteration))).toBe(true);
    const never = await trainCodebooks(vectors, DIM, n, PQM, { ...base, settled: 0 });
    const all = await trainCodebooks(vectors, DIM, n, PQM, base);
    expect(bytes(never).equals(bytes(all))).toBe(true);
    expect(bytes(never).equals(bytes(oneIteration))).toBe(false);
  });
});

describe("codebook training on the compute pool's threads", () => {
  // A pool big enough to start its threads (smaller ones run inline); its own rows are not used here.
  const pool = new ComputePool(new Float32Array(INLINE_ROWS), 1, 2);
  afterAll(() => pool.close());

  it("gives the same bytes as training on one thread", async () => {
    expect(pool.threads).toBe(2);
    const n = 3000;
    const vectors = skewedVectors(n, 5);
    const options = { sample: n, iterations: 5, seed: 9 };
    const one = await trainCodebooks(vectors, DIM, n, PQM, options, inlineAssigner);
    const threaded = await trainCodebooks(vectors, DIM, n, PQM, options, poolAssigner(pool));
    expect(Buffer.from(threaded.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    // …and training did move the centroids: another seed gives other bytes.
    const other = await trainCodebooks(vectors, DIM, n, PQM, { ...options, seed: 10 }, poolAssigner(pool));
    expect(Buffer.from(other.buffer).equals(Buffer.from(one.buffer))).toBe(false);
  });
});
