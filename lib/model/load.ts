// Turns a model.json plus its weight bytes into a tfjs GraphModel without any
// network or file-system IO handler, so the same call works in Node and workerd.
import type * as tfc from "@tensorflow/tfjs-core";
import * as tfconv from "@tensorflow/tfjs-converter";
import type { ModelJson } from "./weights.ts";

export async function loadGraphModelFromMemory(
  model: ModelJson,
  weightData: ArrayBuffer | ReadableStream<ArrayBuffer> | (() => ReadableStream<ArrayBuffer>),
): Promise<tfconv.GraphModel> {
  const weightSpecs = model.weightsManifest.flatMap((g) => g.weights);
  const artifacts: tfc.io.ModelArtifacts = {
    modelTopology: model.modelTopology as tfc.io.ModelArtifacts["modelTopology"],
    weightSpecs,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy ?? undefined,
  };
  if (weightData instanceof ArrayBuffer) artifacts.weightData = weightData;
  else {
    const open = typeof weightData === "function" ? weightData : () => weightData;
    artifacts.getWeightStream = open as unknown as tfc.io.ModelArtifacts["getWeightStream"];
  }
  const handler: tfc.io.IOHandler = { load: async () => artifacts };
  // With getWeightStream set, tfjs decodes tensor by tensor as bytes arrive and
  // never holds the whole weight file: the Worker's memory headroom depends on it.
  return tfconv.loadGraphModel(handler);
}
