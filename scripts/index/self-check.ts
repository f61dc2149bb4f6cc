// Recall of the approximate search against exact float32 search, measured with
// the Worker's own search code over the built blobs. Also chooses nprobe: the
// smallest probe count on a ladder that meets the recall target within the
// per-query byte budget.
import type { Manifest, SelfCheck } from "../../lib/index/manifest.ts";
import { openIndex, searchVector } from "../../lib/index/reader.ts";
import { dot, TopK } from "../../lib/index/vector.ts";
import type { BlobSource } from "../../lib/index/reader.ts";

export function exactTopK(vectors: Float32Array, dim: number, n: number, q: Float32Array, k: number): number[] {
  const top = new TopK(k);
  for (let i = 0; i < n; i++) top.push(i, dot(q, vectors, i * dim, dim));
  return top.entries().map((e) => e.id);
}

export const NPROBE_LADDER = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];

export interface CheckInput {
  manifest: Manifest;
  source: BlobSource;
  vectors: Float32Array;
  dim: number;
  ids: readonly string[];
  queries: Float32Array[];
  k?: number;
}

/** The exact answers, computed once per input however many settings are measured on it. */
const truthCache = new WeakMap<CheckInput, Array<Set<string>>>();

function truthOf(input: CheckInput, k: number): Array<Set<string>> {
  let t = truthCache.get(input);
  if (!t) {
    t = input.queries.map((q) => new Set(exactTopK(input.vectors, input.dim, input.ids.length, q, k).map((i) => input.ids[i])));
    truthCache.set(input, t);
  }
  return t;
}

export async function measureRecall(input: CheckInput, nprobe: number, rerank: number) {
  const { manifest, source, queries } = input;
  const k = input.k ?? 10;
  const handle = await openIndex(manifest, source, null);
  const truths = truthOf(input, k);
  let hits = 0;
  let bytes = 0;
  let maxBytes = 0;
  let rounds = 0;
  for (const [qi, q] of queries.entries()) {
    const truth = truths[qi];
    const { results, stats } = await searchVector(handle, q, { k, nprobe, rerank });
    for (const r of results) if (truth.has(r.id)) hits++;
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
  for (const nprobe of ladder) {
    const r = await measureRecall(input, nprobe, rerank);
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
