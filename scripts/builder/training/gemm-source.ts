// gemm.wat compiled to WebAssembly with wabt: what gemm-wasm.ts holds, and what
// its test compares it with, so the committed bytes cannot drift from the source.
import { readFile } from "node:fs/promises";
import wabtInit from "wabt";

export const GEMM_WAT = new URL("./gemm.wat", import.meta.url);

export async function compileGemmWat(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat("gemm.wat", await readFile(GEMM_WAT, "utf8"), { simd: true });
  try {
    return Uint8Array.from(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}
