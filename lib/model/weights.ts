// The model as stored for the edge: USE-lite's graph with its weights re-encoded
// as float16: half the bytes, and retrieval results unchanged. Tensors under
// 1,024 elements stay float32: they include the attention mask constant 1e9,
// which float16 turns into Infinity and the graph into NaN. uint8 changes
// results and is deliberately absent (docs/decisions.md#float16-weights-not-uint8).
import type { io } from "@tensorflow/tfjs-core";

export const SMALL_TENSOR_ELEMENTS = 1024;

export interface ModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function elements(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Re-encodes float32 weights as float16; returns a single-path manifest and its data. */
export function toFloat16Model(model: ModelJson, weightData: ArrayBuffer): { model: ModelJson; weightData: ArrayBuffer } {
  const specs = model.weightsManifest.flatMap((g) => g.weights);
  const out: Uint8Array[] = [];
  const newSpecs: io.WeightsManifestEntry[] = [];
  let offset = 0;
  let total = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new Error(`weight ${spec.name} is already quantized`);
    const bytesPer = BYTES[spec.dtype];
    if (!bytesPer) throw new Error(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
    const n = elements(spec.shape);
    const src = weightData.slice(offset, offset + n * bytesPer);
    offset += n * bytesPer;
    if (spec.dtype === "float32" && n >= SMALL_TENSOR_ELEMENTS) {
      const f32 = new Float32Array(src);
      const f16 = new Uint16Array(n);
      for (let i = 0; i < n; i++) f16[i] = float32ToFloat16Bits(f32[i]);
      out.push(new Uint8Array(f16.buffer));
      newSpecs.push({ ...spec, quantization: { dtype: "float16" } });
      total += n * 2;
    } else {
      out.push(new Uint8Array(src));
      newSpecs.push({ ...spec });
      total += src.byteLength;
    }
  }
  if (offset !== weightData.byteLength) {
    throw new Error(`weights manifest covers ${offset} bytes but the data has ${weightData.byteLength}`);
  }
  const data = new Uint8Array(total);
  let o = 0;
  for (const chunk of out) {
    data.set(chunk, o);
    o += chunk.byteLength;
  }
  return {
    model: { ...model, weightsManifest: [{ paths: ["weights.bin"], weights: newSpecs }] },
    weightData: data.buffer,
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 with round-to-nearest-even, subnormals and overflow to Inf. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}
