// The build's embeddings (createNodeEmbedder, float16 USE-lite on tfjs-wasm) are
// pinned to a reference generated once with the same code and committed in
// test/fixtures/embedding-reference.json: a model, tokenizer or backend change
// that moves vectors fails here before it silently invalidates caches and indexes.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Embedder } from "../lib/model/embed.ts";
import { createNodeEmbedder } from "../scripts/builder/embedding/node-model.ts";
import { FIXTURES } from "./helpers/build-fixtures.ts";
import { cosine } from "./helpers/stats.ts";

interface Reference {
  modelId: string;
  sentences: string[];
  vectors: number[][];
}

describe("Node embedder vs stored reference", () => {
  let ref: Reference;
  let embedder: Embedder;
  beforeAll(async () => {
    ref = JSON.parse(await readFile(path.join(FIXTURES, "embedding-reference.json"), "utf8")) as Reference;
    embedder = await createNodeEmbedder();
  });

  it("has the reference's model id", () => {
    expect(ref.sentences).toHaveLength(5);
    expect(embedder.modelId).toBe(ref.modelId);
  });

  it("embeds each reference sentence to cosine ≥ 0.9999 with its stored vector, as unit vectors", async () => {
    const got = await embedder.embed(ref.sentences);
    expect(got).toHaveLength(ref.sentences.length);
    got.forEach((v, i) => {
      expect(v).toHaveLength(512);
      expect(ref.vectors[i]).toHaveLength(512);
      expect(cosine(v, ref.vectors[i]), ref.sentences[i]).toBeGreaterThanOrEqual(0.9999);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    });
    // The references are distinct sentences: a constant or shuffled output would fail above.
    expect(cosine(ref.vectors[0], ref.vectors[1])).toBeLessThan(0.9);
  });

  it("gives a sentence the same vector alone as in a batch with longer sentences (padding does not leak)", async () => {
    const [alone] = await embedder.embed([ref.sentences[3]]);
    const batch = await embedder.embed([ref.sentences[2], ref.sentences[3], ref.sentences[4]]);
    expect(cosine(alone, batch[1])).toBeGreaterThanOrEqual(0.9999);
    expect(cosine(alone, ref.vectors[3])).toBeGreaterThanOrEqual(0.9999);
  });
});
