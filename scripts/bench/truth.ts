// Ground truth: exact float32 cosine search over vectors.f32 (the build's own
// embeddings, in item order) with the queries embedded by the Node embedder,
// the same model and weights the Worker runs.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ItemRecord } from "../../lib/index/format.ts";
import { readPackIndex, readVectors } from "../artifacts/dir.ts";
import { createNodeEmbedder } from "../builder/embedding/node-model.ts";
import { TopK, dot } from "../../lib/index/vector.ts";

export interface Corpus {
  dim: number;
  n: number;
  /** Unit-length float32 rows in item order. */
  vectors: Float32Array;
  ids: string[];
  texts: string[];
}

export async function loadCorpus(dir: string, dim: number): Promise<Corpus> {
  const raw = await readVectors(dir, dim);
  const vectors = new Float32Array(raw);
  const n = vectors.length / dim;
  for (let i = 0; i < n; i++) normalizeRow(vectors, i * dim, dim);
  const pack = await readPackIndex(dir);
  if (pack.keys.length !== n) throw new Error(`${dir}: ${pack.keys.length} item records but ${n} vectors`);
  const buf = await readFile(path.join(dir, "items.pack"));
  const ids: string[] = new Array(n);
  const texts: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = JSON.parse(buf.toString("utf8", pack.offsets[i], pack.offsets[i] + pack.lengths[i])) as ItemRecord;
    ids[i] = r.id;
    texts[i] = r.text;
  }
  return { dim, n, vectors, ids, texts };
}

function normalizeRow(v: Float32Array, o: number, dim: number): void {
  let s = 0;
  for (let i = 0; i < dim; i++) s += v[o + i] * v[o + i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < dim; i++) v[o + i] *= inv;
}

export async function embedQueries(texts: readonly string[], onProgress?: (done: number) => void): Promise<Float32Array[]> {
  const embedder = await createNodeEmbedder();
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += 32) {
    const vs = await embedder.embed(texts.slice(i, i + 32) as string[]);
    for (const v of vs) {
      const c = Float32Array.from(v);
      normalizeRow(c, 0, c.length);
      out.push(c);
    }
    onProgress?.(out.length);
  }
  return out;
}

/** Exact top-k rows for each query, and the time brute force took in Node (ms per query). */
export function exactTruth(c: Corpus, queries: readonly Float32Array[], k: number): { rows: number[][]; msPerQuery: number } {
  const t0 = performance.now();
  const rows = queries.map((q) => {
    const top = new TopK(k);
    for (let i = 0; i < c.n; i++) {
      const s = dot(q, c.vectors, i * c.dim, c.dim);
      if (s > top.threshold) top.push(i, s);
    }
    return top.entries().map((e) => e.id);
  });
  return { rows, msPerQuery: (performance.now() - t0) / Math.max(1, queries.length) };
}
