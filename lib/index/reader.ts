// Query-time search over the index format (format.ts), shared by the Worker (KV)
// and the Node tools (files). In memory, the query picks its nearest leaves
// (leaves.ts: nprobe, more when they score alike); then two sequential KV
// rounds at most:
//   1. the shards of those leaves, their entries ranked by PQ codes;
//   2. the records of the best candidates (at most `rerank`, fewer when their PQ
//      scores fall well below the k-th best: rerank-depth.ts), re-scored with
//      int8 vectors.
// A query with a filter takes the same two rounds (filtered-search.ts).
import { decodeFilterTable, decodeRouting, itemKey, joinParts, shardStoredBytes, type ItemRecord, type Shard } from "./format.ts";
import { shardRef } from "./refs.ts";
import type { BlobRef as ManifestBlobRef, Manifest } from "./manifest.ts";
import type { CompiledFilter } from "../filter/compile.ts";
import { itemTable, pqScore } from "./quantize.ts";
import { ItemOnce } from "./item-once.ts";
import { sha256Hex } from "./sha256.ts";
import { dotInt8, TopK } from "./vector.ts";
import { emptyStats, fetchBlobs, fetchRecords, IndexError, type BlobSource, type DecodedRecord, type SearchStats, type ValueCache } from "./fetch.ts";
import { ENTRY_SPAN, nearestLeaves, probedLeaves, withinBudget } from "./leaves.ts";
import { filterRerank, searchFiltered } from "./filtered-search.ts";
import { deepest, type Depth } from "./rerank-depth.ts";
import type { IndexFilters, IndexHandle } from "./handle.ts";
import type { ResidentRecords } from "./resident.ts";
import { decodeLexiconDelta, decodeLexiconHead, ITEM_KEY_BYTES } from "./format.ts";
import { lexicalIndex, type LexicalIndex } from "../lexical/search.ts";

export type { IndexFilters, IndexHandle };

export { IndexError, nearestLeaves, type BlobSource, type SearchStats };
export type { IndexErrorCode, FilterStats } from "./fetch.ts";

export interface SearchHit {
  id: string;
  score: number;
  text: string;
  meta: ItemRecord["meta"];
}

export interface SearchOptions {
  k: number;
  nprobe?: number;
  /** Centroid-score margin below the best leaf within which up to PROBE_SPREAD × nprobe leaves are probed (leaves.ts). */
  probeMargin?: number;
  rerank?: number;
  /** PQ-score margin below the k-th best within which candidates are re-ranked (rerank-depth.ts). */
  rerankMargin?: number;
  /** Round-1 byte budget: probing stops before the shard that would exceed it. */
  maxShardBytes?: number;
  /** Leaves scored in memory (see IndexParams.scanLeaves). */
  scanLeaves?: number;
  /** Only items that match (lib/filter/compile.ts), compiled against this index's fields. */
  filter?: CompiledFilter | null;
  /** Round-1 byte budget of a filtered query (filterRound1Budget when absent); it also decides which plan fits, and the records re-ranked after it get only what it leaves of filterQueryBytes. */
  filterBytes?: number;
}


/** The parts of the routing and of the filter table, fetched in one round and checked. */
async function readParts(source: BlobSource, groups: Array<{ what: string; refs: ManifestBlobRef[] }>): Promise<Uint8Array[]> {
  let texts: Map<string, string | null>;
  try {
    texts = await source.getTexts(groups.flatMap((g) => g.refs.map((r) => r.key)));
  } catch (e) {
    throw new IndexError("index_unavailable", `routing could not be read: ${(e as Error).message}`);
  }
  const out: Uint8Array[] = [];
  for (const g of groups) {
    const parts: string[] = [];
    for (const ref of g.refs) {
      const text = texts.get(ref.key);
      if (text == null) throw new IndexError("index_unavailable", `${g.what} part ${ref.key} is missing`);
      if ((await sha256Hex(text)) !== ref.sha256) throw new IndexError("index_corrupt", `${g.what} part ${ref.key} fails its checksum`);
      parts.push(text);
    }
    out.push(joinParts(parts));
  }
  return out;
}

function decodeOrCorrupt<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw new IndexError("index_corrupt", `${what}: ${(e as Error).message}`);
  }
}

export async function openIndex(manifest: Manifest, source: BlobSource, cache: ValueCache | null = null): Promise<IndexHandle> {
  const refs = manifest.routing;
  if (!Array.isArray(refs) || refs.length === 0) throw new IndexError("index_corrupt", "the manifest names no routing");
  const f = manifest.filters;
  const lx = manifest.lexical;
  const groups = [
    { what: "routing", refs },
    { what: "filter table", refs: f ? f.table : [] },
    { what: "lexicon head", refs: lx ? lx.head : [] },
    { what: "lexicon delta", refs: lx?.delta ? lx.delta.parts : [] },
  ];
  const [routingBytes, tableBytes, headBytes, deltaBytes] = await readParts(source, groups);
  const routing = decodeOrCorrupt(`routing ${refs[0].key}`, () => decodeRouting(routingBytes));
  if (routing.leaves !== manifest.params.leaves || routing.dim !== manifest.dim || routing.pqM !== manifest.params.pqM) {
    throw new IndexError("index_corrupt", `routing ${refs[0].key} disagrees with the manifest`);
  }
  let filters: IndexFilters | null = null;
  if (f) {
    const table = decodeOrCorrupt("filter table", () => decodeFilterTable(tableBytes));
    if (table.leaves !== routing.leaves || table.columns !== f.fields.length) throw new IndexError("index_corrupt", "the filter table disagrees with the manifest");
    filters = { fields: f.fields, table };
  }
  const lexical = lx ? openLexical(manifest, lx, headBytes, deltaBytes) : null;
  return { manifest, routing, filters, source, cache, lexical };
}

function openLexical(manifest: Manifest, lx: NonNullable<Manifest["lexical"]>, headBytes: Uint8Array, deltaBytes: Uint8Array): LexicalIndex {
  const head = decodeOrCorrupt("lexicon head", () => decodeLexiconHead(headBytes));
  if (head.parts !== lx.parts) throw new IndexError("index_corrupt", "the lexicon head disagrees with the manifest");
  const delta = lx.delta ? decodeOrCorrupt("lexicon delta", () => decodeLexiconDelta(deltaBytes)) : null;
  if (delta && (delta.removed.length / ITEM_KEY_BYTES !== lx.delta!.removed || delta.deltaItems !== lx.delta!.items)) throw new IndexError("index_corrupt", "the lexicon delta disagrees with the manifest");
  const index = lexicalIndex(head, delta);
  if (index.items !== manifest.items) throw new IndexError("index_corrupt", `the lexicon counts ${index.items} items, the manifest ${manifest.items}`);
  return index;
}

/**
 * Round 1's ranking: the record keys of the entries with the best PQ scores,
 * as many as `depth` calls for. A spilled item sits in two shards; it is
 * ranked once.
 */
function rankEntries(shards: Shard[], table: Float32Array, pqM: number, depth: Depth): string[] {
  const top = new TopK(depth.rerank);
  const once = new ItemOnce((si) => shards[si].keys);
  shards.forEach((s, si) => {
    for (let e = 0; e < s.count; e++) {
      if (!once.take(si, e)) continue;
      const score = pqScore(table, s.codes, e * pqM, pqM);
      if (score > top.threshold) top.push(si * ENTRY_SPAN + e, score);
    }
  });
  return deepest(top, depth).map(({ id }) => itemKey(shards[Math.floor(id / ENTRY_SPAN)].keys, id % ENTRY_SPAN));
}

/**
 * Round 2: the candidates' records, re-scored with their int8 vectors; the best
 * k are the answer. Records held resident are scored in memory, the same
 * vectors and scales, so the answer does not depend on what is resident.
 */
export async function rerankRecords(h: IndexHandle, q: Float32Array, keys: string[], k: number, stats: SearchStats): Promise<SearchHit[]> {
  const dim = h.routing.dim;
  const resident = h.resident ?? null;
  const held: number[] = [];
  const fetchKeys: string[] = [];
  for (const key of keys) {
    const g = resident ? resident.find(key) : -1;
    if (g >= 0) held.push(g);
    else fetchKeys.push(key);
  }
  const records: DecodedRecord[] = fetchKeys.length ? await fetchRecords(h.source, h.cache, fetchKeys, dim, stats) : [];
  stats.records = keys.length;
  stats.resident = held.length;
  const final = new TopK(k);
  held.forEach((g, i) => {
    stats.bytes += resident!.recordBytes(g);
    final.push(i, resident!.score(q, g));
  });
  records.forEach((r, i) => final.push(held.length + i, dotInt8(q, r.codes, 0, dim) * r.record.s));
  return final.entries().map(({ id, score }) => {
    const r = id < held.length ? residentHit(resident!, held[id]) : records[id - held.length].record;
    return { id: r.id, score, text: r.text, meta: r.meta };
  });
}

function residentHit(resident: ResidentRecords, g: number): Pick<ItemRecord, "id" | "text" | "meta"> {
  try {
    return resident.record(g);
  } catch (e) {
    throw new IndexError("index_corrupt", `resident record ${g}: ${(e as Error).message}`);
  }
}

/**
 * Round 1 of a vector search: the record keys round 2 re-ranks. Its first read
 * is issued before it first awaits, so a SharedRound can join it with other reads.
 */
export async function vectorCandidates(h: IndexHandle, q: Float32Array, options: SearchOptions, stats: SearchStats): Promise<string[]> {
  const { routing, manifest } = h;
  if (q.length !== routing.dim) throw new Error(`query has ${q.length} dimensions, the index ${routing.dim}`);
  const k = options.k;
  const nprobe = Math.max(1, options.nprobe ?? manifest.params.nprobe);
  const probeMargin = options.probeMargin ?? manifest.params.probeMargin;
  const depth: Depth = { k, rerank: Math.max(k, options.rerank ?? manifest.params.rerank), margin: options.rerankMargin ?? manifest.params.rerankMargin };
  const maxShardBytes = options.maxShardBytes ?? manifest.params.maxShardBytes;
  const scanLeaves = options.scanLeaves ?? manifest.params.scanLeaves;
  if (options.filter) {
    const filtered = { ...depth, rerank: Math.max(k, options.rerank ?? filterRerank(manifest.params)) };
    return searchFiltered(h, q, options.filter, { nprobe, probeMargin, depth: filtered, maxShardBytes, scanLeaves, filterBytes: options.filterBytes }, stats);
  }
  const nearest = probedLeaves(routing, q, nprobe, probeMargin, scanLeaves);
  const leaves = withinBudget(nearest, (l) => shardStoredBytes(routing, l), maxShardBytes);
  const shards = await fetchBlobs(h.source, h.cache, leaves.map((l) => shardRef(routing, l)), stats);
  stats.shards = shards.length;
  return rankEntries(shards, itemTable(q, routing.rotation, routing.codebooks, routing.pqM), routing.pqM, depth);
}

export async function searchVector(h: IndexHandle, q: Float32Array, options: SearchOptions): Promise<{ results: SearchHit[]; stats: SearchStats }> {
  const stats = emptyStats();
  const keys = await vectorCandidates(h, q, options, stats);
  return { results: await rerankRecords(h, q, keys, options.k, stats), stats };
}
