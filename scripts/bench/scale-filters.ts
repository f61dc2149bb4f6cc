// The scale bench's filtered queries: a 1-week and a 1-month date filter (the
// filter bench's cases) over the synthetic set, with the held-out queries.
// Which rows pass comes from the synthetic corpus, read in batches; the truth is
// exact float32 search over exactly those rows, the vectors read a chunk at a
// time, so neither side needs the set in memory. Node runs the Worker's code.
import { compileFilter, type CompiledFilter } from "../../lib/filter/compile.ts";
import { openIndex, searchVector } from "../../lib/index/reader.ts";
import { TopK } from "../../lib/index/vector.ts";
import { readManifest, type FileSource } from "../artifacts/dir.ts";
import { readCorpus, type CorpusItem } from "../builder/corpus/read-corpus.ts";
import { FileVectors } from "../builder/embedding/vector-source.ts";
import { encodeColumns, matchingRows } from "../builder/packing/filter-columns.ts";
import { exactTopKRows } from "../builder/training/kernels.ts";
import { PASS_CHUNK_ROWS } from "../builder/pools/row-passes.ts";
import { FILTER_CASES } from "./filters.ts";
import { dist, mean, recallAt, type Dist } from "./stats.ts";

/** The date filters the 10M issue names. */
export const SCALE_FILTER_CASES = FILTER_CASES.filter((c) => c.name.startsWith("1 week") || c.name.startsWith("1 month"));

export interface ScaleFilterResult {
  name: string;
  filter: Record<string, unknown> | null;
  matching: number;
  selectivity: number;
  recallAt10: number;
  /** Share of returned items that pass the filter (must be 1). */
  passing: number;
  /** Queries answered with fewer than min(k, matching) items. */
  short: number;
  plans: Record<string, number>;
  bytes: Dist;
  roundTrips: Dist;
}

/** Corpus items read per batch while encoding the filter columns. */
const CORPUS_BATCH = 100_000;

async function columnValues(corpus: string, o: { items: number; fields: Parameters<typeof encodeColumns>[1] }): Promise<Float64Array> {
  const columns = o.fields.length;
  const out = new Float64Array(columns * o.items);
  let batch: CorpusItem[] = [];
  let at = 0;
  const flush = () => {
    const v = encodeColumns(batch, o.fields);
    for (let c = 0; c < columns; c++) out.set(v.subarray(c * batch.length, (c + 1) * batch.length), c * o.items + at);
    at += batch.length;
    batch = [];
  };
  for await (const it of readCorpus(corpus, {}, { skippedBlank: [] } as never)) {
    batch.push(it);
    if (batch.length === CORPUS_BATCH) flush();
  }
  flush();
  if (at !== o.items) throw new Error(`${corpus} has ${at} items, the set ${o.items}`);
  return out;
}

/** Each case's exact top-k rows for each query, over the rows that pass it. */
async function filteredTruth(vectorsFile: string, items: number, dim: number, queries: Float32Array[], passing: Uint8Array[], k: number): Promise<number[][][]> {
  const flat = new Float32Array(queries.length * dim);
  queries.forEach((q, i) => flat.set(q, i * dim));
  const tops = passing.map(() => queries.map(() => new TopK(k)));
  const src = await FileVectors.open(vectorsFile, items, dim);
  try {
    for (let start = 0; start < items; start += PASS_CHUNK_ROWS) {
      const end = Math.min(items, start + PASS_CHUNK_ROWS);
      const chunk = await src.read(start, end);
      passing.forEach((pass, c) => {
        const rows: number[] = [];
        for (let r = start; r < end; r++) if (pass[r]) rows.push(r);
        if (!rows.length) return;
        const gathered = new Float32Array(rows.length * dim);
        rows.forEach((r, j) => gathered.set(chunk.subarray((r - start) * dim, (r - start + 1) * dim), j * dim));
        const got = exactTopKRows(gathered, dim, 0, rows.length, flat, k);
        queries.forEach((_, q) => {
          for (let j = 0; j < k; j++) if (got.ids[q * k + j] >= 0) tops[c][q].push(rows[got.ids[q * k + j]], got.scores[q * k + j]);
        });
      });
    }
  } finally {
    await src.close();
  }
  return tops.map((byQuery) => byQuery.map((t) => t.entries().map((e) => e.id)));
}

export async function scaleFilters(o: { out: string; source: FileSource; corpus: string; vectors: string; items: number; dim: number; k: number; queries: Float32Array[]; idOf: (row: number) => string; rowOf: (id: string) => number; log: (s: string) => void }): Promise<ScaleFilterResult[] | null> {
  const manifest = await readManifest(o.out);
  const fields = manifest.filters?.fields ?? [];
  if (!fields.length) return null;
  const values = await columnValues(o.corpus, { items: o.items, fields });
  const cases = SCALE_FILTER_CASES.map((c) => {
    const compiled = compileFilter(c.filter, { fields }, JSON.stringify(c.filter).length) as CompiledFilter;
    const pass = new Uint8Array(o.items);
    for (const r of matchingRows(values, o.items, compiled)) pass[r] = 1;
    return { c, compiled, pass, matching: pass.reduce((a, b) => a + b, 0) };
  });
  const truth = await filteredTruth(o.vectors, o.items, o.dim, o.queries, cases.map((c) => c.pass), o.k);
  o.log(`filters: exact truth over the passing rows of ${cases.map((c) => c.c.name).join(", ")}`);
  const handle = await openIndex(manifest, o.source, null);
  return Promise.all(
    cases.map(async ({ c, compiled, pass, matching }, ci) => {
      const recall: number[] = [];
      const bytes: number[] = [];
      const rounds: number[] = [];
      const plans: Record<string, number> = {};
      let returned = 0;
      let passed = 0;
      let short = 0;
      for (let i = 0; i < o.queries.length; i++) {
        const { results, stats } = await searchVector(handle, o.queries[i], { k: o.k, filter: compiled });
        const want = truth[ci][i].map(o.idOf);
        recall.push(recallAt(results.map((r) => r.id), want, o.k));
        bytes.push(stats.bytes);
        rounds.push(stats.roundTrips);
        const plan = stats.filter?.plan ?? "unfiltered";
        plans[plan] = (plans[plan] ?? 0) + 1;
        returned += results.length;
        passed += results.filter((r) => pass[o.rowOf(r.id)] === 1).length;
        if (results.length < Math.min(o.k, matching)) short++;
      }
      const r = { name: c.name, filter: c.filter, matching, selectivity: matching / o.items, recallAt10: mean(recall), passing: returned ? passed / returned : 1, short, plans, bytes: dist(bytes), roundTrips: dist(rounds) };
      o.log(`filter ${c.name}: ${matching} items (${(100 * r.selectivity).toFixed(1)}%), recall@10 ${r.recallAt10.toFixed(4)}, ${(r.bytes.mean / 1024).toFixed(0)} KB mean, rounds max ${r.roundTrips.max}`);
      return r;
    }),
  );
}
