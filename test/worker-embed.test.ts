// The Worker's embeddings are the build's embeddings: same f16 model, same
// tokenizer, tfjs WASM SIMD in workerd vs in Node.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeEmbedder } from "../scripts/builder/embedding/node-model.ts";
import { sharedDataFile } from "./helpers/build-fixtures.ts";
import { post, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { cosine, spearman } from "./helpers/stats.ts";

// STS-B lives only beside this checkout; a fresh clone skips the check (reason printed).
const STS_PATH = sharedDataFile("sts-benchmark-test.tsv", "worker-embed STS Benchmark check");

function readSts(file: string): Array<{ score: number; s1: string; s2: string }> {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const cols = line.split("\t");
      return { score: Number(cols[4]), s1: cols[5], s2: cols[6] };
    });
}

describe("Worker /embed", () => {
  let worker: TestWorker;
  beforeAll(async () => {
    worker = await startTestWorker({ seedModel: true });
  });
  afterAll(async () => worker?.dispose());

  it("matches the Node embedder (cosine >= 0.9999) and returns the documented shape", async () => {
    const sentences = [
      "How do I bake sourdough bread?",
      "drought hits farmers in the north",
      "The quick brown fox jumps over the lazy dog.",
      "Premier announces new hospital funding",
      "Ünïcödé text — with punctuation, digits 1234 and emoji 🚀",
      "a",
    ];
    const node = await createNodeEmbedder();
    const expected = await node.embed(sentences);
    const res = await worker.json("/v1/embed", post({ texts: sentences }));
    expect(res.status).toBe(200);
    expect(res.body.model).toBe(node.modelId);
    expect(res.body.dim).toBe(512);
    expect(res.body.vectors).toHaveLength(sentences.length);
    for (let i = 0; i < sentences.length; i++) {
      expect(res.body.vectors[i]).toHaveLength(512);
      expect(cosine(res.body.vectors[i], expected[i])).toBeGreaterThanOrEqual(0.9999);
    }
    // Different sentences must not collapse to one vector (guards a degenerate pass).
    expect(cosine(res.body.vectors[0], res.body.vectors[1])).toBeLessThan(0.9);
  });

  it.skipIf(!STS_PATH)("reproduces the STS Benchmark Spearman correlation (0.7250 ± 0.003)", async () => {
    const pairs = readSts(STS_PATH!);
    expect(pairs).toHaveLength(1379);
    const unique = [...new Set(pairs.flatMap((p) => [p.s1, p.s2]))];
    const vectors = new Map<string, number[]>();
    const started = Date.now();
    for (let i = 0; i < unique.length; i += 32) {
      const batch = unique.slice(i, i + 32);
      const res = await worker.json("/v1/embed", post({ texts: batch }));
      expect(res.status).toBe(200);
      batch.forEach((s, j) => vectors.set(s, res.body.vectors[j]));
    }
    const seconds = (Date.now() - started) / 1000;
    const rho = spearman(
      pairs.map((p) => cosine(vectors.get(p.s1)!, vectors.get(p.s2)!)),
      pairs.map((p) => p.score),
    );
    console.log(`STS: ${unique.length} sentences via /embed in ${seconds.toFixed(1)} s, Spearman ${rho.toFixed(4)}`);
    expect(Math.abs(rho - 0.725)).toBeLessThanOrEqual(0.003);
  });
});
