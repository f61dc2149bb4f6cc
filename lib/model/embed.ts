// One embedding routine for both runtimes, so that the Worker's query vectors and
// the build's item vectors come out of the exact same arithmetic.
import type * as tfc from "@tensorflow/tfjs-core";
import type { GraphModel } from "@tensorflow/tfjs-converter";
import { sparseBatch, UseTokenizer } from "./tokenizer.ts";

export const EMBEDDING_DIM = 512;

export interface Embedder {
  readonly modelId: string;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/**
 * Embeds a batch and L2-normalises every row, so that a dot product is a cosine
 * everywhere downstream (index, quantizer, re-ranker).
 */
export async function embedBatch(
  tf: typeof tfc,
  model: GraphModel,
  tokenizer: UseTokenizer,
  texts: readonly string[],
): Promise<Float32Array[]> {
  return embedEncoded(tf, model, texts.map((t) => tokenizer.encode(t)));
}

/** embedBatch for texts the caller already encoded (the Worker tokenizes each text once per request). */
export async function embedEncoded(tf: typeof tfc, model: GraphModel, encodings: readonly (readonly number[])[]): Promise<Float32Array[]> {
  if (encodings.length === 0) return [];
  const batch = sparseBatch(encodings);
  const indices = tf.tensor2d(batch.indices, [batch.values.length, 2], "int32");
  const values = tf.tensor1d(batch.values, "int32");
  let output: tfc.Tensor | tfc.Tensor[] | undefined;
  try {
    output = run(model, { indices, values });
    if (!output) output = (await model.executeAsync({ indices, values })) as tfc.Tensor;
    const flat = (await output.data()) as Float32Array;
    const rows: Float32Array[] = [];
    for (let r = 0; r < encodings.length; r++) {
      const v = flat.slice(r * EMBEDDING_DIM, (r + 1) * EMBEDDING_DIM);
      normalizeInPlace(v);
      rows.push(v);
    }
    return rows;
  } finally {
    indices.dispose();
    values.dispose();
    if (Array.isArray(output)) output.forEach((t) => t.dispose());
    else output?.dispose();
  }
}

/** Models that loadGraphModelFromMemory made synchronous; others say so on first use. */
const needsAsync = new WeakSet<GraphModel>();

/**
 * `execute` (cached compilation, no promise per node) where the graph allows it —
 * loadGraphModelFromMemory makes USE-lite's `Where` ops synchronous; undefined
 * for a graph with dynamic ops, which then goes through `executeAsync`.
 */
function run(model: GraphModel, inputs: tfc.NamedTensorMap): tfc.Tensor | undefined {
  if (needsAsync.has(model)) return undefined;
  try {
    return model.execute(inputs) as tfc.Tensor;
  } catch (err) {
    // Thrown while compiling, before any op ran.
    if (!/executeAsync/.test((err as Error).message)) throw err;
    needsAsync.add(model);
    return undefined;
  }
}

export function normalizeInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}
