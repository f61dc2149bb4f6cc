// Recall of the approximate search against exact float32 search, computed with
// the Worker's own search code over the built values. Also chooses nprobe: the
// smallest probe count on a ladder that meets the recall target within the
// per-query byte budget.
import type { Manifest, SelfCheck } from "../../../lib/index/manifest.ts";
import { openIndex, searchVector } from "../../../lib/index/reader.ts";
import type { BlobSource } from "../../../lib/index/reader.ts";
import type { ComputePool } from "../pools/compute-pool.ts";
import { exactTopKRows } from "../training/kernels.ts";
import { dot, TopK } from "../../../lib/index/vector.ts";

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

export const NPROBE_LADDER = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

/**
 * The check measures, and picks nprobe for, exactly nprobe leaves a query: the
 * probe margin (lib/index/leaves.ts) then only adds leaves for the queries whose
 * leaves score alike. Picked with the margin, the easy queries settle for fewer
 * leaves, and filtered probing, which widens that count, loses recall
 * (docs/decisions.md#self-check-probes-without-the-margin).
 */
const FIXED_PROBES = 0;

/** Exact top-k rows of each query over every row in the pool, best first (all threads). */
export async function exactTruth(pool: ComputePool, queries: Float32Array[], k: number): Promise<number[][]> {
  const dim = pool.dim;
  const flat = new Float32Array(queries.length * dim);
  queries.forEach((q, i) => flat.set(q, i * dim));
  const n = pool.vectors.length / dim;
  const parts = await pool.all<{ ids: Int32Array; scores: Float32Array }>(pool.ranges(n, 2).map(([start, end]) => ({ kind: "exact", queries: flat, k, start, end })));
  return queries.map((_, q) => {
    const merged: Array<{ id: number; score: number }> = [];
    for (const p of parts) for (let j = 0; j < k; j++) if (p.ids[q * k + j] >= 0) merged.push({ id: p.ids[q * k + j], score: p.scores[q * k + j] });
    return merged.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k).map((e) => e.id);
  });
}

export interface CheckInput {
  manifest: Manifest;
  source: BlobSource;
  ids: readonly string[];
  queries: Float32Array[];
  /** exactTruth's rows for the queries. */
  truth: number[][];
  k?: number;
}

export async function measureRecall(input: CheckInput, nprobe: number, rerank: number) {
  const { manifest, source, queries } = input;
  const k = input.k ?? 10;
  const handle = await openIndex(manifest, source, null);
  const truths = input.truth.map((rows) => new Set(rows.slice(0, k).map((i) => input.ids[i])));
  let hits = 0;
  let bytes = 0;
  let maxBytes = 0;
  let rounds = 0;
  for (const [qi, q] of queries.entries()) {
    const { results, stats } = await searchVector(handle, q, { k, nprobe, rerank, probeMargin: FIXED_PROBES });
    for (const r of results) if (truths[qi].has(r.id)) hits++;
    bytes += stats.bytes;
    maxBytes = Math.max(maxBytes, stats.bytes);
    rounds = Math.max(rounds, stats.roundTrips);
  }
  return { recallAt10: hits / (queries.length * k), meanBytes: bytes / queries.length, maxBytes, roundTrips: rounds };
}

export async function selfCheck(input: CheckInput, opts: { targetRecall: number; byteBudget: number; fixedNprobe?: number }): Promise<{ nprobe: number; check: SelfCheck }> {
  const rerank = input.manifest.params.rerank;
  const leaves = input.manifest.params.leaves;
  const ladder = opts.fixedNprobe ? [opts.fixedNprobe] : [...NPROBE_LADDER.filter((p) => p < leaves), leaves];
  const curve: SelfCheck["curve"] = [];
  let chosen: { nprobe: number; r: Awaited<ReturnType<typeof measureRecall>> } | undefined;
  let previousBytes = -1;
  for (const nprobe of ladder) {
    const r = await measureRecall(input, nprobe, rerank);
    // The round-1 byte cap binds for every query: more probes read the same leaves.
    if (r.meanBytes <= previousBytes) break;
    previousBytes = r.meanBytes;
    curve.push({ nprobe, rerank, recallAt10: r.recallAt10, meanBytes: Math.round(r.meanBytes) });
    if (r.meanBytes > opts.byteBudget && chosen) break;
    if (!chosen || r.recallAt10 > chosen.r.recallAt10 + 1e-9 || chosen.r.recallAt10 < opts.targetRecall) {
      if (r.meanBytes <= opts.byteBudget || !chosen) chosen = { nprobe, r };
    }
    if (r.recallAt10 >= opts.targetRecall) break;
  }
  const c = chosen!;
  return {
    nprobe: c.nprobe,
    check: { queries: input.queries.length, k: input.k ?? 10, recallAt10: c.r.recallAt10, meanBytes: Math.round(c.r.meanBytes), maxBytes: c.r.maxBytes, roundTrips: c.r.roundTrips, curve },
  };
}
