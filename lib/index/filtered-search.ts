// Round 1 of a query with a filter; round 2 (records) is the reader's, as
// unfiltered. The filter table (format.ts §5) plans it from memory:
//  - scan:   the value-order chunks that can hold a match fit the budget → read
//            them all and score every item that passes: exact candidates,
//            however selective the filter, and all of them when fewer than k match;
//  - values: too many of those → read those of the query's nearest cells
//            first (a chunk as near as the nearest cell it holds: cells.ts) as
//            far as the budget goes: every entry a match, of a near cell;
//  - cells:  or read the cell-order chunks that can hold a match, of the
//            query's nearest cells first: entries near the query, mostly matches.
//            Of these two, the one the build's gauged cell coverage predicts to
//            hold more of the filter's near matches, when that is most of them
//            or the filter is too narrow for leaves to hold many matches;
//  - probe:  otherwise (a broad filter the cells hold loosely, a filter no
//            chunks list, or a build without the gauge) → read the nearest
//            leaves that can hold a match (leaf ranges), with their attributes,
//            probing as far as an unfiltered query would (further when the
//            leaves score alike), widened by the inverse of the filter's selectivity.
// Every candidate has passed the filter on its stored values; records of items
// that fail it are never read.
import type { Attributes, ColumnChunk, FilterTable, Shard } from "./format.ts";
import { attributesStoredBytes, chunkHoldsOneValue, chunkStoredBytes, itemKey, shardStoredBytes } from "./format.ts";
import type { CompiledFilter, FieldPredicate } from "../filter/compile.ts";
import { matches, mayMatch, overlapsRanges } from "../filter/match.ts";
import { fetchBlobs, type SearchStats } from "./fetch.ts";
import { ENTRY_SPAN, probedLeaves, withinBudget } from "./leaves.ts";
import { cellOrder, COVERAGE_DEPTH } from "./cells.ts";
import { itemTable, pqScore } from "./quantize.ts";
import { ItemOnce } from "./item-once.ts";
import { attributesRef, chunkRef, shardRef } from "./refs.ts";
import type { IndexFilters, IndexHandle } from "./handle.ts";
import { deepest, type Depth } from "./rerank-depth.ts";
import { TopK } from "./vector.ts";

/**
 * Round-1 bytes of a filtered query, at most, and both rounds' (decimal MB):
 * round 1 gets what the re-ranked records after it (at most `rerank` of them)
 * leave, so a query's reads stay under a megabyte whatever its filter and
 * however deep the index re-ranks (docs/decisions.md#filtered-round-1-cap).
 */
export const FILTER_ROUND1_BYTES = 800 * 1024;
export const FILTER_QUERY_BYTES = 1_000_000;

/**
 * How much more than FILTER_RERANK records, FILTER_ROUND1_BYTES and
 * FILTER_QUERY_BYTES a filtered query may read, at most. An index whose
 * self-check re-ranks deeper than FILTER_RERANK (a large one: its codes rank
 * its crowded neighbourhoods loosely) scales all three by its re-rank's
 * ratio to FILTER_RERANK, up to this: a filter's near matches there need both
 * a larger round 1 and a deeper re-rank (docs/decisions.md#filtered-recall-at-10m).
 * The bound keeps what a filtered query may read known (FILTER_QUERY_BYTES
 * times this) whatever re-rank a build chose.
 */
export const FILTER_MAX_SCALE = 3;

/** The factor (1 to FILTER_MAX_SCALE) by which an index's filtered queries read more, from its manifest's params. */
export function filterScale(params: { rerank: number }): number {
  return Math.min(FILTER_MAX_SCALE, Math.max(1, params.rerank / FILTER_RERANK));
}

/** Records a filtered query re-ranks, at most, when the request does not say. */
export function filterRerank(params: { rerank: number }): number {
  return Math.round(FILTER_RERANK * filterScale(params));
}

/** What a filtered query reads in both rounds, at most (bytes). */
export function filterQueryBytes(params: { rerank: number }): number {
  return Math.round(FILTER_QUERY_BYTES * filterScale(params));
}

/**
 * The round-1 budget of a filtered query that re-ranks up to `rerank` records,
 * sized at the build's mean record: the re-rank's margin reads fewer than
 * `rerank` records for most queries, which leaves room for longer ones.
 */
export function filterRound1Budget(h: IndexHandle, rerank: number): number {
  const record = meanRecordBytes(h);
  const scale = filterScale(h.manifest.params);
  const total = filterQueryBytes(h.manifest.params);
  return Math.max(total / 2, Math.min(FILTER_ROUND1_BYTES * scale, Math.floor(total - rerank * record)));
}

/**
 * Records round 2 may re-rank within `bytes`, at the build's mean record and
 * RECORD_SLACK: the budget reserved them at the mean, and a query that used
 * all of round 1's budget on records longer than the mean would pass
 * filterQueryBytes.
 */
export function recordsWithin(h: IndexHandle, bytes: number): number {
  const record = meanRecordBytes(h);
  return record > 0 ? Math.max(0, Math.floor(bytes / (record * RECORD_SLACK))) : Number.MAX_SAFE_INTEGER;
}

/** The build's mean item record, stored bytes (0 when the manifest does not say). */
function meanRecordBytes(h: IndexHandle): number {
  const { items, totals } = h.manifest;
  return totals && items ? totals.itemBytes / items : 0;
}

/**
 * Records a filtered query may re-rank where the build re-ranks up to this
 * many or fewer: its candidates come from column chunks and far leaves, whose
 * PQ scores order them less surely than an unfiltered query's nearest leaves;
 * and within its own byte cap (FILTER_QUERY_BYTES) each record re-ranked is
 * round-1 bytes not read, so a deeper re-rank within the same cap reads too
 * little (docs/decisions.md#filtered-re-rank-depth). A build that re-ranks
 * deeper scales the depth and the cap together (filterScale).
 */
export const FILTER_RERANK = 300;

/** Records re-ranked after a filtered round 1 are counted this much longer than the build's mean. */
export const RECORD_SLACK = 1.1;

/**
 * Leaves one filtered query may probe: with its attributes, two keys each, so
 * round 1 stays within 8 KV bulk reads (≤ 100 keys each) and a 16-query batch
 * well inside Workers' 1,000 KV operations per invocation.
 */
export const MAX_FILTER_PROBE_LEAVES = 400;

/**
 * The share of a filter's near matches the nearest cells within the budget
 * must be predicted to hold (manifest.filters.cellCoverage) for the values or
 * cells plan to serve it (docs/decisions.md#cell-order-chunks).
 */
export const CELLS_MIN_COVERAGE = 0.95;

/**
 * A filter the values and cells plans are predicted to serve below
 * CELLS_MIN_COVERAGE probes only when it passes at least this share of the
 * items: the probe's leaves then hold mostly matches. A narrower filter
 * still reads chunks, which keep more of its near matches than leaves do
 * (docs/decisions.md#value-chunks-in-cell-order).
 */
export const PROBE_MIN_SELECTIVITY = 0.25;

/** Chunks one filtered query may read: as many keys as the probe's leaves and attributes. */
export const MAX_FILTER_CHUNKS = 2 * MAX_FILTER_PROBE_LEAVES;

export interface ProbeParams {
  nprobe: number;
  /** As unfiltered (leaves.ts): the probes follow the leaf scores, then the filter's selectivity widens them. */
  probeMargin?: number;
  depth: Depth;
  maxShardBytes?: number;
  scanLeaves: number;
  /** Round-1 bytes at most (filterRound1Budget when absent). */
  filterBytes?: number;
}

/** A chunk to read and the column its entries are listed by. */
export interface ChunkRead {
  chunk: number;
  column: number;
}

type Plan = { kind: "scan" | "values" | "cells"; chunks: ChunkRead[]; estimate: number } | { kind: "probe"; estimate: number };

function meets(t: FilterTable, p: FieldPredicate, chunk: number): boolean {
  return overlapsRanges(p.ranges, t.chunkMin[chunk], t.chunkMax[chunk]);
}


/** The value-order chunks of the predicate's column whose [min, max] meet one of its ranges. */
function chunksMeeting(filters: IndexFilters, p: FieldPredicate): { chunks: number[]; entries: number } {
  const t = filters.table;
  const chunks: number[] = [];
  let entries = 0;
  for (let c = t.chunkStart[p.field]; c < t.chunkStart[p.field + 1]; c++) {
    if (!meets(t, p, c)) continue;
    chunks.push(c);
    entries += t.chunkCount[c];
  }
  return { chunks, entries };
}

/** Items without a value in a column: the chunks list only the others. */
function withoutValue(filters: IndexFilters, column: number, items: number): number {
  const t = filters.table;
  let listed = 0;
  for (let c = t.chunkStart[column]; c < t.chunkStart[column + 1]; c++) listed += t.chunkCount[c];
  return items - listed;
}

/** The value-order chunks a filter can match, in table order, and what bounds its matches. */
interface Matching {
  reads: ChunkRead[];
  bytes: number;
  /** The predicates whose chunks list the matches, one per AND-branch. */
  predicates: FieldPredicate[];
  /** Items that can match, at most. */
  estimate: number;
  /** Every branch lists its matches in chunks (else only leaves can find them). */
  scannable: boolean;
}

/**
 * Each AND-branch is served by its most selective predicate's chunks. A
 * predicate that also accepts items without a value ($ne, $nin) can list its
 * matches from chunks only when every item has a value in its column; otherwise
 * it still bounds the estimate, and the query probes.
 */
function matching(h: IndexHandle, filters: IndexFilters, filter: CompiledFilter): Matching {
  const items = h.manifest.items;
  const chunks = new Map<number, number>();
  const predicates: FieldPredicate[] = [];
  let estimate = 0;
  let scannable = true;
  for (const branch of filter.anyOf) {
    let best: { chunks: number[]; entries: number; p: FieldPredicate } | null = null;
    let bound = items;
    for (const p of branch) {
      const m = chunksMeeting(filters, p);
      const unlisted = p.missing ? withoutValue(filters, p.field, items) : 0;
      bound = Math.min(bound, m.entries + unlisted);
      if (unlisted === 0 && (!best || m.entries < best.entries)) best = { ...m, p };
    }
    estimate += bound;
    if (!best) scannable = false;
    else {
      predicates.push(best.p);
      for (const c of best.chunks) chunks.set(c, best.p.field);
    }
  }
  const reads = [...chunks.keys()].sort((a, b) => a - b).map((chunk) => ({ chunk, column: chunks.get(chunk)! }));
  const bytes = reads.reduce((a, r) => a + chunkStoredBytes(filters.table, r.chunk, h.routing.pqM), 0);
  return { reads, bytes, predicates, estimate: Math.min(estimate, items), scannable };
}

/**
 * Scan when the matching value-order chunks fit; else the values or cells plan,
 * whichever the gauge predicts more of; probe when neither is predicted to
 * serve a broad filter well, or the build has no gauge.
 */
function plan(h: IndexHandle, filters: IndexFilters, filter: CompiledFilter, q: Float32Array, budget: number, k: number): Plan {
  const m = matching(h, filters, filter);
  const { estimate } = m;
  if (m.scannable && m.bytes <= budget) return { kind: "scan", chunks: m.reads, estimate };
  const coverage = h.manifest.filters?.cellCoverage;
  if (!m.scannable || !coverage) return { kind: "probe", estimate };
  const t = filters.table;
  const pqM = h.routing.pqM;
  const order = cellOrder(h.routing, t, q);
  const selectivity = estimate / h.manifest.items;
  const values = nearestValueChunks(t, m.reads, order, budget, pqM);
  const byCell = Array.from({ length: t.cells }, (_, c) => cellChunksMeeting(t, m.predicates, c, pqM));
  const cellBytes = byCell.reduce((a, r) => a + r.bytes, 0);
  const valuesCoverage = readCoverage(coverage, values.held, selectivity, k);
  const cellsPlanCoverage = cellsCoverage(coverage, budget / cellBytes, selectivity, k);
  if (Math.max(valuesCoverage, cellsPlanCoverage) < CELLS_MIN_COVERAGE && selectivity >= PROBE_MIN_SELECTIVITY) return { kind: "probe", estimate };
  if (valuesCoverage >= cellsPlanCoverage) return { kind: "values", chunks: values.reads, estimate };
  return { kind: "cells", chunks: nearestCellChunks(order, byCell, budget), estimate };
}

/**
 * A filter's value-order chunks (`reads`), those holding the query's nearest
 * cells first, while the budget lasts; and for the query's cells, nearest
 * first, the share of the chunks holding each that are read (`held`: a cell
 * no chunk holds, 1).
 */
export function nearestValueChunks(t: FilterTable, reads: ChunkRead[], order: number[], budget: number, pqM: number): { reads: ChunkRead[]; held: Float64Array } {
  const rank = new Uint32Array(t.cells);
  order.forEach((cell, r) => (rank[cell] = r));
  const spans = reads.map((r) => cellSpan(t, r));
  const nearest = spans.map(([from, to]) => {
    if (from === 0 && to === t.cells - 1) return 0; // every cell: the nearest is there
    let best = t.cells;
    for (let c = from; c <= to; c++) if (rank[c] < best) best = rank[c];
    return best;
  });
  const byRank = reads.map((_, i) => i).sort((a, b) => nearest[a] - nearest[b] || a - b);
  const picked: number[] = [];
  let used = 0;
  for (const i of byRank) {
    const bytes = chunkStoredBytes(t, reads[i].chunk, pqM);
    if (used + bytes > budget || picked.length >= MAX_FILTER_CHUNKS) break;
    picked.push(i);
    used += bytes;
  }
  const all = spanCounts(t.cells, spans);
  const got = spanCounts(t.cells, picked.map((i) => spans[i]));
  const held = Float64Array.from(order, (cell) => (all[cell] ? got[cell] / all[cell] : 1));
  return { reads: picked.map((i) => reads[i]), held };
}

/** How many of the spans hold each cell. */
function spanCounts(cells: number, spans: Array<[number, number]>): Int32Array {
  const delta = new Int32Array(cells + 1);
  for (const [from, to] of spans) {
    delta[from]++;
    delta[to + 1]--;
  }
  for (let c = 1; c <= cells; c++) delta[c] += delta[c - 1];
  return delta.subarray(0, cells);
}

/**
 * The cells a value-order chunk holds: one value's chunks are in cell order,
 * so from its first entry's cell to the next chunk's first; a chunk that may
 * hold more than one value, any cell.
 */
function cellSpan(t: FilterTable, read: ChunkRead): [number, number] {
  const v = read.chunk;
  if (!chunkHoldsOneValue(t, v)) return [0, t.cells - 1];
  return [t.chunkCell[v], v + 1 < t.chunkStart[read.column + 1] ? t.chunkCell[v + 1] : t.cells - 1];
}

/**
 * The share of a filter's k nearest matches that the cells the budget reaches
 * (a share of them) are predicted to hold. The gauged curve counts each proxy's
 * COVERAGE_DEPTH nearest items. A filter passing a share s of the items finds
 * its k nearest matches among about k / s unfiltered neighbours; deeper than
 * the gauge, they spread over proportionally more cells, so the budget's share
 * counts for that much less.
 */
export function cellsCoverage(curve: ReadonlyArray<readonly [number, number]>, share: number, selectivity: number, k: number): number {
  return predictedCoverage(curve, share * depthScale(selectivity, k));
}

/** What a share of the cells counts for on the gauge, for a filter passing `selectivity` of the items (cellsCoverage). */
function depthScale(selectivity: number, k: number): number {
  return Math.min(1, COVERAGE_DEPTH / (k / Math.max(selectivity, Number.MIN_VALUE)));
}

/**
 * The share of a filter's k nearest matches predicted to be among what a plan
 * reads, when it reads a share held[r] of the matches in the query's r-th
 * nearest cell: each cell counts for what its rank adds to the gauged
 * coverage, on the scale cellsCoverage uses (whole cells in order give the
 * same prediction).
 */
export function readCoverage(curve: ReadonlyArray<readonly [number, number]>, held: Float64Array, selectivity: number, k: number): number {
  const scale = depthScale(selectivity, k);
  let sum = 0;
  let before = 0;
  for (let r = 0; r < held.length; r++) {
    const upTo = predictedCoverage(curve, (scale * (r + 1)) / held.length);
    sum += (upTo - before) * held[r];
    before = upTo;
  }
  return sum;
}

/** The gauged coverage at a share of the cells, linear between the gauged shares (0 at 0). */
export function predictedCoverage(curve: ReadonlyArray<readonly [number, number]>, share: number): number {
  let prev: readonly [number, number] = [0, 0];
  for (const point of curve) {
    if (share <= point[0]) return prev[1] + ((point[1] - prev[1]) * (share - prev[0])) / (point[0] - prev[0]);
    prev = point;
  }
  return prev[1];
}

/** One cell's cell-order chunks that can hold a match, and their bytes. */
interface CellReads {
  reads: ChunkRead[];
  bytes: number;
}

/** Cell c's cell-order chunks that can hold a match of one of the predicates, each once, and their bytes. */
function cellChunksMeeting(t: FilterTable, predicates: FieldPredicate[], cell: number, pqM: number): CellReads {
  const reads: ChunkRead[] = [];
  let bytes = 0;
  for (const p of predicates) {
    const at = p.field * t.cells + cell;
    for (let c = t.cellChunkStart[at]; c < t.cellChunkStart[at + 1]; c++) {
      if (!meets(t, p, c) || reads.some((r) => r.chunk === c)) continue;
      reads.push({ chunk: c, column: p.field });
      bytes += chunkStoredBytes(t, c, pqM);
    }
  }
  return { reads, bytes };
}

/**
 * The cell-order chunks that can hold a match, of the query's cells nearest
 * first, a whole cell at a time while the budget lasts (the nearest always);
 * a cell with none is passed over.
 */
function nearestCellChunks(order: number[], byCell: CellReads[], budget: number): ChunkRead[] {
  const picked: ChunkRead[] = [];
  let used = 0;
  for (const cell of order) {
    const { reads, bytes } = byCell[cell];
    if (reads.length === 0) continue;
    if (picked.length && (used + bytes > budget || picked.length + reads.length > MAX_FILTER_CHUNKS)) break;
    picked.push(...reads);
    used += bytes;
  }
  return picked;
}

/** A source of scored entries: their codes, keys and filterable values. */
interface EntrySource {
  count: number;
  keys: Uint8Array;
  codes: Uint8Array;
  /** columns × count, column-major */
  values: Float64Array;
}

/** The record keys of the best entries that pass the filter, by PQ score, each item once, as many as `depth` calls for; and how many were scored and passed. */
function rankMatching(sources: EntrySource[], filter: CompiledFilter, table: Float32Array, pqM: number, depth: Depth, dedupe: boolean): { keys: string[]; scored: number; matched: number } {
  const top = new TopK(depth.rerank);
  const once = dedupe ? new ItemOnce((si) => sources[si].keys) : null;
  let scored = 0;
  let matched = 0;
  sources.forEach((s, si) => {
    const value = (e: number) => (field: number) => s.values[field * s.count + e];
    for (let e = 0; e < s.count; e++) {
      scored++;
      if (!matches(filter, value(e))) continue;
      if (once && !once.take(si, e)) continue;
      matched++;
      const score = pqScore(table, s.codes, e * pqM, pqM);
      if (score > top.threshold) top.push(si * ENTRY_SPAN + e, score);
    }
  });
  const keys = deepest(top, depth).map(({ id }) => itemKey(sources[Math.floor(id / ENTRY_SPAN)].keys, id % ENTRY_SPAN));
  return { keys, scored, matched };
}

async function scanChunks(h: IndexHandle, filters: IndexFilters, chunks: ChunkRead[], stats: SearchStats): Promise<EntrySource[]> {
  const t = filters.table;
  const read: ColumnChunk[] = await fetchBlobs(h.source, h.cache, chunks.map((c) => chunkRef(t, c.chunk, c.column, h.routing.pqM)), stats);
  stats.shards = read.length;
  return read;
}

/** The leaves to probe: nearest first, those that cannot hold a match skipped, within the budgets. */
function probeLeaves(h: IndexHandle, filters: IndexFilters, q: Float32Array, filter: CompiledFilter, estimate: number, p: ProbeParams, budget: number): number[] {
  const { routing } = h;
  const t = filters.table;
  const C = t.columns;
  const selectivity = Math.max(estimate / h.manifest.items, 1 / routing.leaves);
  const nearest = probedLeaves(routing, q, p.nprobe, p.probeMargin, p.scanLeaves, 1 / selectivity);
  const possible = nearest.filter((l) => mayMatch(filter, t.leafMin.subarray(l * C, (l + 1) * C), t.leafMax.subarray(l * C, (l + 1) * C)));
  const shardBudget = p.maxShardBytes ? p.maxShardBytes / selectivity : undefined;
  const byShards = withinBudget(possible, (l) => shardStoredBytes(routing, l), shardBudget);
  return withinBudget(byShards, (l) => shardStoredBytes(routing, l) + attributesStoredBytes(C, routing.leafSizes[l]), budget).slice(0, MAX_FILTER_PROBE_LEAVES);
}

async function probe(h: IndexHandle, filters: IndexFilters, leaves: number[], stats: SearchStats): Promise<EntrySource[]> {
  const { routing } = h;
  const refs = [...leaves.map((l) => shardRef(routing, l)), ...leaves.map((l) => attributesRef(filters.table, l, routing.leafSizes[l]))];
  // Shards and their attributes in one round.
  const values = await fetchBlobs<Shard | Attributes>(h.source, h.cache, refs, stats);
  stats.shards = leaves.length;
  return leaves.map((_, i) => {
    const s = values[i] as Shard;
    return { count: s.count, keys: s.keys, codes: s.codes, values: (values[leaves.length + i] as Attributes).values };
  });
}

/** Round 1 of a filtered query: the record keys to re-rank, all of which pass the filter. */
export async function searchFiltered(h: IndexHandle, q: Float32Array, filter: CompiledFilter, p: ProbeParams, stats: SearchStats): Promise<string[]> {
  if (!h.filters) throw new Error("this index has no filterable fields"); // callers compile filters against h.filters
  const filters = h.filters;
  const budget = p.filterBytes ?? filterRound1Budget(h, p.depth.rerank);
  const pl = plan(h, filters, filter, q, budget, p.depth.k);
  stats.filter = { plan: pl.kind, estimate: pl.estimate, scored: 0, matched: 0 };
  if (filter.anyOf.length === 0) return [];
  const chunks = pl.kind === "probe" ? null : pl.chunks;
  const sources = chunks ? await scanChunks(h, filters, chunks, stats) : await probe(h, filters, probeLeaves(h, filters, q, filter, pl.estimate, p, budget), stats);
  const { routing } = h;
  // An item is in two leaves when the build spilled it, and in one chunk per column and order: chunks of two columns can list it twice.
  const dedupe = !chunks || new Set(chunks.map((c) => c.column)).size > 1;
  const depth = { ...p.depth, rerank: Math.min(p.depth.rerank, Math.max(p.depth.k, recordsWithin(h, filterQueryBytes(h.manifest.params) - stats.bytes))) };
  const ranked = rankMatching(sources, filter, itemTable(q, routing.rotation, routing.codebooks, routing.pqM), routing.pqM, depth, dedupe);
  stats.filter.scored = ranked.scored;
  stats.filter.matched = ranked.matched;
  return ranked.keys;
}
