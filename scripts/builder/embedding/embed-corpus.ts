// The embedding stage of a build: every distinct text embedded once, cache
// first, the rest on every core; the vectors land in a SharedArrayBuffer so the
// index stage's threads read them without a copy.
import type { CorpusItem } from "../corpus/read-corpus.ts";
import { Progress } from "../../common/progress.ts";
import { EmbeddingCache, textHash } from "./cache.ts";
import type { EmbeddingPool } from "../pools/embed-pool.ts";

export interface Embedded {
  vectors: Float32Array;
  computed: number;
  cached: number;
  seconds: number;
}

export function sharedVectors(rows: number, dim: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(rows * dim * 4));
}

/** The corpus's distinct texts (by hash), the vectors the cache already had, and those still missing. */
export async function fromCache(items: ReadonlyArray<{ text: string }>, dim: number, cache: EmbeddingCache | null) {
  const vectors = sharedVectors(items.length, dim);
  const rowsByHash = new Map<string, number[]>();
  items.forEach((it, i) => {
    const h = textHash(it.text);
    const rows = rowsByHash.get(h);
    if (rows) rows.push(i);
    else rowsByHash.set(h, [i]);
  });
  const filled = cache ? await cache.lookup(rowsByHash, vectors) : new Set<number>();
  const missing = [...rowsByHash].filter(([, rows]) => !filled.has(rows[0]));
  const cachedRows = items.length - missing.reduce((a, [, rows]) => a + rows.length, 0);
  return { vectors, distinct: rowsByHash.size, missing, cachedRows, texts: missing.map(([, rows]) => items[rows[0]].text) };
}

export async function embedCorpus(
  items: readonly CorpusItem[],
  dim: number,
  cache: EmbeddingCache | null,
  pool: EmbeddingPool,
  log: (s: string) => void,
  quiet = false,
): Promise<Embedded> {
  const n = items.length;
  const { vectors, missing, cachedRows } = await fromCache(items, dim, cache);
  if (missing.length === 0) {
    log(`all ${n} embeddings from cache`);
    return { vectors, computed: 0, cached: n, seconds: 0 };
  }
  log(`embedding ${missing.length} new text(s) on ${pool.threads} thread(s); ${cachedRows} from cache`);
  await pool.warmUp();
  const progress = new Progress("embed", missing.length);
  const t0 = performance.now();
  await embedMissing(items, missing, vectors, dim, cache, pool, (d) => !quiet && progress.update(d));
  return { vectors, computed: missing.length, cached: cachedRows, seconds: (performance.now() - t0) / 1000 };
}

/** Embeds fromCache's missing texts into their rows (repeats share one embedding) and appends them to the cache. */
async function embedMissing(
  items: ReadonlyArray<{ text: string }>,
  missing: Array<[string, number[]]>,
  vectors: Float32Array,
  dim: number,
  cache: EmbeddingCache | null,
  pool: EmbeddingPool,
  onProgress?: (done: number) => void,
): Promise<void> {
  if (missing.length === 0) return;
  const firstRows = missing.map(([, rows]) => rows[0]);
  await pool.embedInto(
    firstRows.map((r) => items[r].text),
    vectors,
    firstRows,
    { onProgress },
  );
  for (const [, rows] of missing) for (const r of rows.slice(1)) vectors.copyWithin(r * dim, rows[0] * dim, (rows[0] + 1) * dim);
  await cache?.append(missing.map(([hash, rows]) => ({ hash, vector: vectors.slice(rows[0] * dim, (rows[0] + 1) * dim) })));
}

/**
 * A few texts' vectors (the self-check's query proxies) through the cache:
 * their rules are seeded, so a rebuild of the same corpus finds them there and
 * loads no model.
 */
export async function embedTexts(texts: readonly string[], dim: number, cache: EmbeddingCache | null, pool: EmbeddingPool): Promise<Float32Array[]> {
  const items = texts.map((text) => ({ text }));
  const { vectors, missing } = await fromCache(items, dim, cache);
  await embedMissing(items, missing, vectors, dim, cache, pool);
  return texts.map((_, i) => vectors.subarray(i * dim, (i + 1) * dim));
}
