// Recall of the approximate search against exact float32 search, computed with
// the Worker's own search code over the built values, on query proxies of
// several kinds (check/perturb.ts), each kind's recall kept apart. Also chooses
// nprobe: the smallest probe count on a ladder whose predicted recall (the mean
// over the kinds) meets the target plus margin within the per-query byte budget
// (docs/decisions.md#self-check-on-harder-proxies); and, where a large index's
// round-1 cap binds, a larger cap or a deeper re-rank.
import type { Manifest, SelfCheck } from "../../../lib/index/manifest.ts";
import { openIndex, searchVector } from "../../../lib/index/reader.ts";
import { valueCache } from "../../../lib/index/fetch.ts";
import type { BlobSource } from "../../../lib/index/reader.ts";
import { RowPasses } from "../pools/row-passes.ts";
import type { ComputePool } from "../pools/compute-pool.ts";
import { exactTopKRows } from "../training/kernels.ts";
import { dot, TopK } from "../../../lib/index/vector.ts";
import { cellOrder } from "../../../lib/index/cells.ts";
import { FILTER_QUERY_BYTES, RECORD_SLACK } from "../../../lib/index/filtered-search.ts";

/** One query's exact top-k rows over the first n rows, best first (this thread). */
export function exactTopK(vectors: Float32Array, dim: number, n: number, q: Float32Array, k: number): number[] {
  return Array.from(exactTopKRows(vectors, dim, 0, n, q, k).ids).filter((i) => i >= 0);
}

/** Exact top-k among the given rows only (a filter's matches), best first. */
export function exactTopKOf(vectors: Float32Array, dim: number, rows: ArrayLike<number>, q: Float32Array, k: number): number[] {
  const top = new TopK(k);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const score = dot(q, vectors, r * dim, dim);
    if (score > top.threshold) top.push(r, score);
  }
  return top.entries().map((e) => e.id);
}

/** Decoded values a rung of the check keeps, per kind: far more than its queries share, bounded at any n. */
const CHECK_CACHE_BYTES = 256 * 1024 * 1024;

export const NPROBE_LADDER = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

/**
 * The check measures, and picks nprobe for, exactly nprobe leaves a query: the
 * probe margin (lib/index/leaves.ts) then only adds leaves for the queries whose
 * leaves score alike. Picked with the margin, the easy queries settle for fewer
 * leaves, and filtered probing, which widens that count, loses recall
 * (docs/decisions.md#self-check-probes-without-the-margin).
 */
const FIXED_PROBES = 0;

/** Exact top-k of every query over every row of `rows` (a pool holding them all, or chunked passes), ties to the lower row. */
export async function exactTruth(rows: ComputePool | RowPasses, queries: Float32Array[], k: number): Promise<number[][]> {
  const dim = rows.dim;
  const flat = new Float32Array(queries.length * dim);
  queries.forEach((q, i) => flat.set(q, i * dim));
  const parts: Array<{ ids: Int32Array; scores: Float32Array; offset: number }> = [];
  const chunk = async (pool: ComputePool, n: number, offset: number) => {
    const got = await pool.all<{ ids: Int32Array; scores: Float32Array }>(pool.ranges(n, 2).map(([start, end]) => ({ kind: "exact", queries: flat, k, start, end })));
    for (const p of got) parts.push({ ...p, offset });
  };
  if (rows instanceof RowPasses) await rows.each((c) => chunk(c.pool, c.end - c.start, c.start));
  else await chunk(rows, rows.vectors.length / dim, 0);
  return queries.map((_, q) => {
    const merged: Array<{ id: number; score: number }> = [];
    for (const p of parts) for (let j = 0; j < k; j++) if (p.ids[q * k + j] >= 0) merged.push({ id: p.offset + p.ids[q * k + j], score: p.scores[q * k + j] });
    return merged.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k).map((e) => e.id);
  });
}

/**
 * exactTruth for check queries, some of which are held-out items: a query
 * with `exclude[i]` set is that row's own vector, and its truth is the top k
 * of the other rows.
 */
export async function proxyTruth(rows: ComputePool | RowPasses, queries: Float32Array[], exclude: ReadonlyArray<number | undefined>, k: number): Promise<number[][]> {
  const truth = await exactTruth(rows, queries, k + 1);
  return truth.map((r, i) => r.filter((row) => row !== exclude[i]).slice(0, k));
}

export interface CheckInput {
  manifest: Manifest;
  source: BlobSource;
  ids: readonly string[];
  queries: Float32Array[];
  /** exactTruth's (or proxyTruth's) rows for the queries. */
  truth: number[][];
  /** Each query's kind (check/perturb.ts); one kind "perturbed" when absent. */
  kinds?: readonly string[];
  /** The row a held-out query leaves out of its answer (its own item), per query. */
  exclude?: ReadonlyArray<number | undefined>;
  k?: number;
}

export interface Measured {
  /** The mean over the kinds of each kind's recall@10: the prediction. */
  recallAt10: number;
  byKind: Record<string, { queries: number; recallAt10: number }>;
  meanBytes: number;
  maxBytes: number;
  roundTrips: number;
}

/** One query's hits among the truth, leaving its excluded item out of its answer. */
async function queryHits(handle: Awaited<ReturnType<typeof openIndex>>, q: Float32Array, truth: Set<string>, skip: string | undefined, o: { k: number; nprobe: number; rerank: number; maxShardBytes?: number }) {
  const { results, stats } = await searchVector(handle, q, { k: o.k + (skip === undefined ? 0 : 1), nprobe: o.nprobe, rerank: o.rerank, probeMargin: FIXED_PROBES, maxShardBytes: o.maxShardBytes });
  const answer = results.filter((r) => r.id !== skip).slice(0, o.k);
  return { hits: answer.filter((r) => truth.has(r.id)).length, stats };
}

export async function measureRecall(input: CheckInput, nprobe: number, rerank: number, maxShardBytes?: number): Promise<Measured> {
  const { manifest, source, queries } = input;
  const k = input.k ?? 10;
  // A cache per rung: its first query reads cold (so the rounds reported are a cold isolate's), the
  // rest skip re-verifying and re-decoding the shards they share; bytes count every value used either way.
  const handle = await openIndex(manifest, source, valueCache(CHECK_CACHE_BYTES, CHECK_CACHE_BYTES, CHECK_CACHE_BYTES));
  const truths = input.truth.map((rows) => new Set(rows.slice(0, k).map((i) => input.ids[i])));
  const kinds: Record<string, { queries: number; hits: number }> = {};
  let bytes = 0;
  let maxBytes = 0;
  let rounds = 0;
  for (const [qi, q] of queries.entries()) {
    const row = input.exclude?.[qi];
    const { hits, stats } = await queryHits(handle, q, truths[qi], row === undefined ? undefined : input.ids[row], { k, nprobe, rerank, maxShardBytes });
    const kind = (kinds[input.kinds?.[qi] ?? "perturbed"] ??= { queries: 0, hits: 0 });
    kind.queries++;
    kind.hits += hits;
    bytes += stats.bytes;
    maxBytes = Math.max(maxBytes, stats.bytes);
    rounds = Math.max(rounds, stats.roundTrips);
  }
  const byKind = Object.fromEntries(Object.entries(kinds).map(([name, c]) => [name, { queries: c.queries, recallAt10: c.hits / (c.queries * k) }]));
  const recalls = Object.values(byKind).map((c) => c.recallAt10);
  return { recallAt10: recalls.reduce((a, b) => a + b, 0) / Math.max(1, recalls.length), byKind, meanBytes: bytes / queries.length, maxBytes, roundTrips: rounds };
}

/**
 * Each step up of the round-1 shard cap, once more probes no longer read more
 * (docs/decisions.md#round-1-cap-the-self-check-raises).
 */
export const CAP_STEP = 1.25;

/** Each step up of the re-rank depth, the other lever where the cap binds (same section). */
export const RERANK_STEP = 1.5;

export interface CheckOptions {
  /** The predicted recall to stop at: the goal plus its margin. */
  targetRecall: number;
  /** Mean bytes a query may read. */
  byteBudget: number;
  fixedNprobe?: number;
  /** The round-1 cap was given (--probe-kb): keep it. */
  fixedCap?: boolean;
  /** The re-rank depth was given (--rerank): keep it. */
  fixedRerank?: boolean;
  /** Recall under which a binding cap is a reason to read more (the target when absent). */
  capGoal?: number;
  /** The build's mean record (stored bytes): a raise keeps cap + rerank records within QUERY_BYTES. */
  meanRecordBytes?: number;
}

/** What a query may read in both rounds, at most, whatever the self-check raises. */
export const QUERY_BYTES = FILTER_QUERY_BYTES;

/** The round-1 cap and the re-rank depth the check measures with. */
interface Setting {
  cap: number | undefined;
  rerank: number;
}

/**
 * Walks the nprobe ladder and keeps the smallest probe count whose predicted
 * recall (the mean over the query kinds) meets `targetRecall`, the goal plus
 * its margin, within the byte budget; short of it, the best recall in budget.
 * Where the round-1 shard cap binds while recall is under `capGoal` (a large
 * index: more probes read the same bytes), it reads more another way: a cap
 * CAP_STEP larger or a re-rank RERANK_STEP deeper, whichever buys more recall
 * per byte at that nprobe (raise), and goes on; the budget, not a cap and a
 * depth sized for a small corpus, bounds what a query may read.
 */
export async function selfCheck(input: CheckInput, opts: CheckOptions): Promise<{ nprobe: number; maxShardBytes: number | undefined; rerank: number; check: SelfCheck }> {
  const { leaves } = input.manifest.params;
  const ladder = opts.fixedNprobe ? [opts.fixedNprobe] : [...NPROBE_LADDER.filter((p) => p < leaves), leaves];
  const curve: SelfCheck["curve"] = [];
  let chosen: { nprobe: number; s: Setting; r: Measured } | undefined;
  let s: Setting = { cap: input.manifest.params.maxShardBytes, rerank: input.manifest.params.rerank };
  let pending: Measured | undefined;
  let previousBytes = -1;
  let raised = false;
  for (let i = 0; i < ladder.length; ) {
    const nprobe = ladder[i];
    const r = pending ?? (await measureRecall(input, nprobe, s.rerank, s.cap));
    pending = undefined;
    if (r.meanBytes <= previousBytes) {
      // The cap binds: more probes read the same leaves. Read more at this nprobe another way; if the
      // way chosen last time did not read more, or neither buys recall, more probes will not either.
      if (raised || chosen!.r.recallAt10 >= (opts.capGoal ?? opts.targetRecall)) break;
      const up = await raise(input, opts, nprobe, s, r);
      if (!up) break;
      [s, pending, raised] = [up.s, up.r, true];
      continue;
    }
    raised = false;
    previousBytes = r.meanBytes;
    const byKind = Object.fromEntries(Object.entries(r.byKind).map(([name, c]) => [name, c.recallAt10]));
    curve.push({ nprobe, rerank: s.rerank, maxShardBytes: s.cap, recallAt10: r.recallAt10, meanBytes: Math.round(r.meanBytes), byKind });
    if (r.meanBytes > opts.byteBudget && chosen) break;
    if (!chosen || r.recallAt10 > chosen.r.recallAt10 + 1e-9 || chosen.r.recallAt10 < opts.targetRecall) {
      if (r.meanBytes <= opts.byteBudget || !chosen) chosen = { nprobe, s, r };
    }
    if (r.recallAt10 >= opts.targetRecall) break;
    i++;
  }
  const c = chosen!;
  const check = { queries: input.queries.length, k: input.k ?? 10, recallAt10: c.r.recallAt10, meanBytes: Math.round(c.r.meanBytes), maxBytes: c.r.maxBytes, roundTrips: c.r.roundTrips, curve, byKind: c.r.byKind, target: opts.targetRecall };
  return { nprobe: c.nprobe, maxShardBytes: c.s.cap, rerank: c.s.rerank, check };
}

/**
 * Where the cap binds at `nprobe` (with `at` its result there): a cap
 * CAP_STEP larger and a re-rank RERANK_STEP deeper, each that the options
 * allow and that keeps the worst case (cap + rerank records at the mean
 * record) within QUERY_BYTES, each run at that nprobe; the one with more
 * recall per added byte within the budget, or null when neither adds recall.
 */
async function raise(input: CheckInput, opts: CheckOptions, nprobe: number, s: Setting, at: Measured): Promise<{ s: Setting; r: Measured } | null> {
  const candidates: Setting[] = [];
  if (s.cap !== undefined && !opts.fixedCap) candidates.push({ ...s, cap: Math.round(s.cap * CAP_STEP) });
  if (!opts.fixedRerank) candidates.push({ ...s, rerank: Math.round(s.rerank * RERANK_STEP) });
  let best: { s: Setting; r: Measured; gain: number } | null = null;
  for (const c of candidates) {
    if (c.cap !== undefined && (c.cap > opts.byteBudget || c.cap + c.rerank * (opts.meanRecordBytes ?? 0) * RECORD_SLACK > QUERY_BYTES)) continue;
    const r = await measureRecall(input, nprobe, c.rerank, c.cap);
    if (r.meanBytes > opts.byteBudget) continue;
    const gain = (r.recallAt10 - at.recallAt10) / Math.max(1, r.meanBytes - at.meanBytes);
    if (gain > 0 && (!best || gain > best.gain)) best = { s: c, r, gain };
  }
  return best && { s: best.s, r: best.r };
}

/** Shares of the cells, nearest first, at which the coverage is taken. */
export const CELL_SHARES = [1 / 512, 1 / 256, 1 / 128, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1];

/**
 * For each share of the cells (nearest first, as the filtered plan orders
 * them: lib/index/cells.ts), the share of the queries' nearest items (`truth`
 * rows) whose cell (`cellOf`) is among them.
 */
export async function cellCoverage(manifest: Manifest, source: BlobSource, queries: Float32Array[], truth: number[][], cellOf: Uint32Array): Promise<Array<[number, number]>> {
  const { routing, filters } = await openIndex(manifest, source, null);
  if (!filters) throw new Error("cell coverage needs an index with filterable fields");
  const C = filters.table.cells;
  const within = CELL_SHARES.map((f) => Math.max(1, Math.ceil(f * C)));
  const counts = CELL_SHARES.map(() => 0);
  let total = 0;
  queries.forEach((q, i) => {
    const rank = new Uint32Array(C);
    cellOrder(routing, filters.table, q).forEach((c, r) => (rank[c] = r));
    for (const row of truth[i]) {
      total++;
      within.forEach((w, j) => {
        if (rank[cellOf[row]] < w) counts[j]++;
      });
    }
  });
  return CELL_SHARES.map((f, j) => [f, +(counts[j] / Math.max(1, total)).toFixed(4)]);
}
