// Round 1 of a query with a filter; round 2 (records) is the reader's, as
// unfiltered. The filter table (format.ts §5) plans it from memory:
//  - scan:  the column chunks that can hold a match fit the budget → read them
//           all and score every item that passes: exact candidates, however
//           selective the filter, and all of them when fewer than k match;
//  - probe: otherwise the filter matches many items → read the nearest leaves
//           that can hold a match (leaf ranges), with their attributes, probing
//           as far as an unfiltered query would (further when the leaves score
//           alike), widened by the inverse of the filter's selectivity.
// Every candidate has passed the filter on its stored values; records of items
// that fail it are never read.
import type { Attributes, ColumnChunk, FilterTable, Shard } from "./format.ts";
import { itemKey } from "./format.ts";
import type { CompiledFilter, FieldPredicate } from "../filter/compile.ts";
import { matches, mayMatch } from "../filter/match.ts";
import { fetchBlobs, type SearchStats } from "./fetch.ts";
import { ENTRY_SPAN, probedLeaves, withinBudget } from "./leaves.ts";
import { itemTable, pqScore } from "./quantize.ts";
import { ItemOnce } from "./item-once.ts";
import { attributesRef, chunkRef, shardRef } from "./refs.ts";
import type { IndexFilters, IndexHandle } from "./handle.ts";
import { deepest, type Depth } from "./rerank-depth.ts";
import { TopK } from "./vector.ts";

/**
 * Round-1 bytes of a filtered query, at most: with the re-ranked records after
 * it (at most `rerank` of them) a query's reads stay bounded whatever its
 * filter, about a megabyte at the default rerank and a little more for an index
 * built with a larger --rerank (docs/decisions.md#filtered-round-1-cap).
 */
export const FILTER_ROUND1_BYTES = 800 * 1024;

/**
 * Leaves one filtered query may probe: with its attributes, two keys each, so
 * round 1 stays within 8 KV bulk reads (≤ 100 keys each) and a 16-query batch
 * well inside Workers' 1,000 KV operations per invocation.
 */
export const MAX_FILTER_PROBE_LEAVES = 400;

export interface ProbeParams {
  nprobe: number;
  /** As unfiltered (leaves.ts): the probes follow the leaf scores, then the filter's selectivity widens them. */
  probeMargin?: number;
  depth: Depth;
  maxShardBytes?: number;
  scanLeaves: number;
}

type Plan = { kind: "scan"; chunks: number[]; estimate: number } | { kind: "probe"; estimate: number };


/** The chunks of the predicate's column whose [min, max] meet one of its ranges. */
function chunksMeeting(filters: IndexFilters, p: FieldPredicate): { chunks: number[]; entries: number } {
  const t = filters.table;
  const chunks: number[] = [];
  let entries = 0;
  for (let c = t.chunkStart[p.field]; c < t.chunkStart[p.field + 1]; c++) {
    for (let r = 0; r < p.ranges.length; r += 2) {
      if (p.ranges[r] <= t.chunkMax[c] && p.ranges[r + 1] >= t.chunkMin[c]) {
        chunks.push(c);
        entries += t.chunkCount[c];
        break;
      }
    }
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

/**
 * Each AND-branch is served by its most selective predicate's chunks. A
 * predicate that also accepts items without a value ($ne, $nin) can list its
 * matches from chunks only when every item has a value in its column; otherwise
 * it still bounds the estimate, and the query probes.
 */
function plan(filters: IndexFilters, filter: CompiledFilter, items: number): Plan {
  const chunks = new Set<number>();
  let estimate = 0;
  let scannable = true;
  for (const branch of filter.anyOf) {
    let best: { chunks: number[]; entries: number } | null = null;
    let bound = items;
    for (const p of branch) {
      const m = chunksMeeting(filters, p);
      const unlisted = p.missing ? withoutValue(filters, p.field, items) : 0;
      bound = Math.min(bound, m.entries + unlisted);
      if (unlisted === 0 && (!best || m.entries < best.entries)) best = m;
    }
    estimate += bound;
    if (!best) scannable = false;
    else for (const c of best.chunks) chunks.add(c);
  }
  estimate = Math.min(estimate, items);
  const ordered = [...chunks].sort((a, b) => a - b);
  const bytes = ordered.reduce((a, c) => a + filters.table.chunkBytes[c], 0);
  return scannable && bytes <= FILTER_ROUND1_BYTES ? { kind: "scan", chunks: ordered, estimate } : { kind: "probe", estimate };
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

function columnOf(t: FilterTable, chunk: number): number {
  let col = 0;
  while (t.chunkStart[col + 1] <= chunk) col++;
  return col;
}

async function scanChunks(h: IndexHandle, filters: IndexFilters, chunks: number[], stats: SearchStats): Promise<EntrySource[]> {
  const t = filters.table;
  const read: ColumnChunk[] = await fetchBlobs(h.source, h.cache, chunks.map((c) => chunkRef(t, c, columnOf(t, c), h.routing.pqM)), stats);
  stats.shards = read.length;
  return read;
}

/** The leaves to probe: nearest first, those that cannot hold a match skipped, within the budgets. */
function probeLeaves(h: IndexHandle, filters: IndexFilters, q: Float32Array, filter: CompiledFilter, estimate: number, p: ProbeParams): number[] {
  const { routing } = h;
  const t = filters.table;
  const C = t.columns;
  const selectivity = Math.max(estimate / h.manifest.items, 1 / routing.leaves);
  const nearest = probedLeaves(routing, q, p.nprobe, p.probeMargin, p.scanLeaves, 1 / selectivity);
  const possible = nearest.filter((l) => mayMatch(filter, t.leafMin.subarray(l * C, (l + 1) * C), t.leafMax.subarray(l * C, (l + 1) * C)));
  const shardBudget = p.maxShardBytes ? p.maxShardBytes / selectivity : undefined;
  const byShards = withinBudget(possible, (l) => routing.shardBytes[l], shardBudget);
  return withinBudget(byShards, (l) => routing.shardBytes[l] + t.attrBytes[l], FILTER_ROUND1_BYTES).slice(0, MAX_FILTER_PROBE_LEAVES);
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
  const pl = plan(filters, filter, h.manifest.items);
  stats.filter = { plan: pl.kind, estimate: pl.estimate, scored: 0, matched: 0 };
  if (filter.anyOf.length === 0) return [];
  const sources = pl.kind === "scan" ? await scanChunks(h, filters, pl.chunks, stats) : await probe(h, filters, probeLeaves(h, filters, q, filter, pl.estimate, p), stats);
  const { routing } = h;
  // An item is in two leaves when the build spilled it, and in one chunk per column: chunks of two columns can list it twice.
  const dedupe = pl.kind === "probe" || new Set(pl.chunks.map((c) => columnOf(filters.table, c))).size > 1;
  const ranked = rankMatching(sources, filter, itemTable(q, routing.rotation, routing.codebooks, routing.pqM), routing.pqM, p.depth, dedupe);
  stats.filter.scored = ranked.scored;
  stats.filter.matched = ranked.matched;
  return ranked.keys;
}
