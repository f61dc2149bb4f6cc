// The build's matrix product (kernels.ts gemmNT): its WebAssembly SIMD kernel
// is gemm.wat as committed, and every shape, the SIMD part and the JS tails
// alike, matches a float64 reference to float32 summation error.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { compileGemmWat } from "../scripts/builder/training/gemm-source.ts";
import { GEMM_WASM_BASE64 } from "../scripts/builder/training/gemm-wasm.ts";
import { gemmNT, rng } from "../scripts/builder/training/kernels.ts";

function reference(X: Float32Array, xo: number, rows: number, C: Float32Array, k: number, dim: number): Float64Array {
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += X[xo + i * dim + t] * C[j * dim + t];
    out[i * k + j] = s;
  }
  return out;
}

const random = rng(5);
const filled = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

describe("gemmNT", () => {
  it("runs the WebAssembly that gemm.wat compiles to (regenerate with `npx tsx scripts/wasm.ts`)", async () => {
    expect(Buffer.from(await compileGemmWat()).toString("base64")).toBe(GEMM_WASM_BASE64);
    expect(await readFile(new URL("../scripts/builder/training/gemm.wat", import.meta.url), "utf8")).toContain("f32x4.mul");
  });

  const shapes: Array<[string, number, number, number]> = [
    ["a full block", 64, 448, 512],
    ["rows and centroids past the SIMD tiles", 7, 5, 512],
    ["one row", 1, 9, 128],
    ["a dim that is not a multiple of 4 (JS only)", 6, 6, 7],
  ];
  for (const [name, rows, k, dim] of shapes) {
    it(`matches a float64 reference: ${name} (${rows} × ${k}, dim ${dim})`, () => {
      const offsetRows = 3;
      const X = filled((rows + offsetRows) * dim);
      const C = filled(k * dim);
      const out = new Float32Array(rows * k).fill(NaN);
      gemmNT(X, offsetRows * dim, rows, C, k, dim, out);
      const want = reference(X, offsetRows * dim, rows, C, k, dim);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - want[i]));
      expect(worst).toBeLessThan(1e-4);
      expect(out.every((v) => Number.isFinite(v))).toBe(true);
    });
  }
});
