// Query-time search over the index format (format.ts), shared by the Worker (KV)
// and the Node tools (files). In memory, the query picks its best groups (int8
// centroids), scores their leaves (PQ-coded centroids) and keeps the nprobe best;
// then two sequential KV rounds at most:
//   1. the shards of those leaves, their entries ranked by PQ codes;
//   2. the records of the best `rerank` candidates, re-scored with int8 vectors.
// Whatever the source, a missing or corrupt value is an IndexError, never a
// silently smaller answer.
import { decodeRouting, decodeShard, hex, itemKey, joinParts, shardKey, textToBlob, ITEM_KEY_BYTES, SHARD_HASH_BYTES, FormatError, type ItemRecord, type Routing, type Shard } from "./format.ts";
import type { Manifest } from "./manifest.ts";
import { ByteLru } from "./lru.ts";
import { pqScore, pqTable } from "./quantize.ts";
import { sha256Hex } from "./sha256.ts";
import { dotInt8, TopK } from "./vector.ts";

export type IndexErrorCode = "shard_missing" | "shard_corrupt" | "record_missing" | "index_unavailable" | "index_corrupt";

export class IndexError extends Error {
  constructor(
    readonly code: IndexErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "IndexError";
  }
}

/** One call is one round trip: KV bulk reads (≤100 keys each, issued together) or files. */
export interface BlobSource {
  getTexts(keys: string[]): Promise<Map<string, string | null>>;
}

export interface SearchHit {
  id: string;
  score: number;
  text: string;
  meta: ItemRecord["meta"];
}

export interface SearchStats {
  /** Shards the query needed, and item records re-ranked. */
  shards: number;
  records: number;
  /** Bytes of shard and record values the query needed (cache hits included). */
  bytes: number;
  /** Bytes actually read from the source (cache misses only). */
  fetchedBytes: number;
  /** Sequential rounds that went to the source. */
  roundTrips: number;
  /**
   * Milliseconds spent waiting for the source; the rest of a search's time is
   * compute. (In production Workers, timers stand still during compute, so
   * only this part reads non-zero there.)
   */
  kvMs: number;
}

export interface SearchOptions {
  k: number;
  nprobe?: number;
  rerank?: number;
  /** Round-1 byte budget: probing stops before the shard that would exceed it. */
  maxShardBytes?: number;
  /** Leaves scored in memory (see IndexParams.scanLeaves). */
  scanLeaves?: number;
}

/** Round-1 candidates are numbered shard · MAX_SHARD_ENTRIES + entry. */
const MAX_SHARD_ENTRIES = 2 ** 20;

interface DecodedRecord {
  record: ItemRecord;
  codes: Int8Array;
  bytes: number;
}

export interface IndexHandle {
  manifest: Manifest;
  routing: Routing;
  source: BlobSource;
  cache: ByteLru<Shard | DecodedRecord> | null;
}

export async function openIndex(manifest: Manifest, source: BlobSource, cache: ByteLru<Shard | DecodedRecord> | null = null): Promise<IndexHandle> {
  const refs = manifest.routing;
  if (!Array.isArray(refs) || refs.length === 0) throw new IndexError("index_corrupt", "the manifest names no routing");
  let texts: Map<string, string | null>;
  try {
    texts = await source.getTexts(refs.map((r) => r.key));
  } catch (e) {
    throw new IndexError("index_unavailable", `routing could not be read: ${(e as Error).message}`);
  }
  const parts: string[] = [];
  for (const ref of refs) {
    const text = texts.get(ref.key);
    if (text == null) throw new IndexError("index_unavailable", `routing part ${ref.key} is missing`);
    if ((await sha256Hex(text)) !== ref.sha256) throw new IndexError("index_corrupt", `routing part ${ref.key} fails its checksum`);
    parts.push(text);
  }
  let routing: Routing;
  try {
    routing = decodeRouting(joinParts(parts));
  } catch (e) {
    throw new IndexError("index_corrupt", `routing ${refs[0].key}: ${(e as Error).message}`);
  }
  if (routing.leaves !== manifest.params.leaves || routing.dim !== manifest.dim || routing.pqM !== manifest.params.pqM) {
    throw new IndexError("index_corrupt", `routing ${refs[0].key} disagrees with the manifest`);
  }
  return { manifest, routing, source, cache };
}

/** Groups best first, taken until their leaves number at least `scanLeaves`. */
function candidateLeaves(routing: Routing, q: Float32Array, scanLeaves: number): Uint32Array {
  const { groups, dim, groupCentroids, groupScales, groupStart } = routing;
  const scores = new Float32Array(groups);
  for (let g = 0; g < groups; g++) scores[g] = dotInt8(q, groupCentroids, g * dim, dim) * groupScales[g];
  const order = Array.from({ length: groups }, (_, g) => g).sort((a, b) => scores[b] - scores[a] || a - b);
  const picked: number[] = [];
  let count = 0;
  for (const g of order) {
    if (count >= scanLeaves) break;
    picked.push(g);
    count += groupStart[g + 1] - groupStart[g];
  }
  const out = new Uint32Array(count);
  let o = 0;
  for (const g of picked) for (let l = groupStart[g]; l < groupStart[g + 1]; l++) out[o++] = l;
  return out;
}

/**
 * The nprobe leaves whose centroids score highest against q, best first, among
 * the leaves of the query's best groups (scored through the leaf quantizer's table).
 */
export function nearestLeaves(routing: Routing, q: Float32Array, nprobe: number, scanLeaves: number): number[] {
  const { leafPqM, leafCodes } = routing;
  const table = pqTable(q, routing.leafCodebooks, leafPqM);
  const candidates = candidateLeaves(routing, q, Math.max(scanLeaves, nprobe));
  const n = candidates.length;
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = pqScore(table, leafCodes, candidates[i] * leafPqM, leafPqM);
  // Threshold from a sorted copy, then sort only the few above it: a bounded
  // insertion list costs O(leaves · nprobe).
  const want = Math.min(nprobe, n);
  const threshold = scores.slice().sort()[n - want];
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i] >= threshold) picked.push(i);
  picked.sort((a, b) => scores[b] - scores[a] || candidates[a] - candidates[b]);
  return picked.slice(0, want).map((i) => candidates[i]);
}

/**
 * The nearest leaves, cut where their shards would exceed the byte budget: a
 * query near a dense region would otherwise read several oversized leaves, and
 * the per-query cost must stay bounded whatever the query. The nearest leaf is
 * always read.
 */
function withinBudget(h: IndexHandle, leaves: number[], budget: number | undefined): number[] {
  if (!budget) return leaves;
  let used = 0;
  for (let i = 0; i < leaves.length; i++) {
    used += h.routing.shardBytes[leaves[i]];
    if (used > budget && i > 0) return leaves.slice(0, i);
  }
  return leaves;
}

const encoder = new TextEncoder();

/** One round to the source; a source that fails (quota, outage) is unavailable, not a bug. */
async function read(h: IndexHandle, keys: string[], stats: SearchStats): Promise<Map<string, string | null>> {
  stats.roundTrips++;
  const t0 = performance.now();
  try {
    return await h.source.getTexts(keys);
  } catch (e) {
    throw new IndexError("index_unavailable", `the index store could not be read: ${(e as Error).message}`);
  } finally {
    stats.kvMs += performance.now() - t0;
  }
}

async function fetchShards(h: IndexHandle, leaves: number[], stats: SearchStats): Promise<Shard[]> {
  const { routing } = h;
  const refs = leaves.map((l) => ({ key: shardKey(routing, l), bytes: routing.shardBytes[l], sha: hex(routing.shardHashes, l * SHARD_HASH_BYTES, (l + 1) * SHARD_HASH_BYTES) }));
  const out: Shard[] = new Array(refs.length);
  const missing: number[] = [];
  refs.forEach((ref, i) => {
    const hit = h.cache?.get(ref.key) as Shard | undefined;
    stats.bytes += ref.bytes;
    if (hit) out[i] = hit;
    else missing.push(i);
  });
  if (missing.length === 0) return out;
  const texts = await read(h, missing.map((i) => refs[i].key), stats);
  await Promise.all(
    missing.map(async (i) => {
      const ref = refs[i];
      const text = texts.get(ref.key);
      if (text == null) throw new IndexError("shard_missing", `shard ${ref.key} (leaf ${leaves[i]}) is missing`);
      stats.fetchedBytes += text.length;
      if (text.length !== ref.bytes || !(await sha256Hex(text)).startsWith(ref.sha)) {
        throw new IndexError("shard_corrupt", `shard ${ref.key} (leaf ${leaves[i]}) fails its checksum`);
      }
      let shard: Shard;
      try {
        shard = decodeShard(textToBlob(text));
      } catch (e) {
        throw new IndexError("shard_corrupt", `shard ${ref.key}: ${(e as Error).message}`);
      }
      if (shard.leaf !== leaves[i] || shard.pqM !== h.routing.pqM) throw new IndexError("shard_corrupt", `shard ${ref.key} is not leaf ${leaves[i]}'s`);
      h.cache?.set(ref.key, shard, text.length);
      out[i] = shard;
    }),
  );
  return out;
}

async function fetchRecords(h: IndexHandle, keys: string[], stats: SearchStats): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = new Array(keys.length);
  const missing: number[] = [];
  keys.forEach((key, i) => {
    const hit = h.cache?.get(key) as DecodedRecord | undefined;
    if (hit) {
      out[i] = hit;
      stats.bytes += hit.bytes;
    } else missing.push(i);
  });
  if (missing.length === 0) return out;
  const texts = await read(h, missing.map((i) => keys[i]), stats);
  await Promise.all(
    missing.map(async (i) => {
      const key = keys[i];
      const text = texts.get(key);
      if (text == null) throw new IndexError("record_missing", `item record ${key} is missing`);
      const bytes = encoder.encode(text).length;
      stats.bytes += bytes;
      stats.fetchedBytes += bytes;
      const digest = await sha256Hex(text);
      if (digest.slice(0, ITEM_KEY_BYTES * 2) !== key.slice(5)) throw new IndexError("shard_corrupt", `item record ${key} fails its checksum`);
      let record: ItemRecord;
      let codes: Int8Array;
      try {
        record = JSON.parse(text) as ItemRecord;
        const raw = textToBlob(record.v);
        codes = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
        if (codes.length !== h.routing.dim) throw new FormatError("vector has the wrong length");
      } catch (e) {
        throw new IndexError("shard_corrupt", `item record ${key}: ${(e as Error).message}`);
      }
      const decoded = { record, codes, bytes };
      h.cache?.set(key, decoded, bytes * 2);
      out[i] = decoded;
    }),
  );
  return out;
}

/** Round 1's ranking: the record keys of the `rerank` entries with the best PQ scores. */
function rankEntries(shards: Shard[], table: Float32Array, pqM: number, rerank: number): string[] {
  const top = new TopK(rerank);
  shards.forEach((s, si) => {
    for (let e = 0; e < s.count; e++) {
      const score = pqScore(table, s.codes, e * pqM, pqM);
      if (score > top.threshold) top.push(si * MAX_SHARD_ENTRIES + e, score);
    }
  });
  return top.entries().map(({ id }) => itemKey(shards[Math.floor(id / MAX_SHARD_ENTRIES)].keys, id % MAX_SHARD_ENTRIES));
}

export async function searchVector(h: IndexHandle, q: Float32Array, options: SearchOptions): Promise<{ results: SearchHit[]; stats: SearchStats }> {
  const { routing, manifest } = h;
  if (q.length !== routing.dim) throw new Error(`query has ${q.length} dimensions, the index ${routing.dim}`);
  const k = options.k;
  const nprobe = Math.max(1, options.nprobe ?? manifest.params.nprobe);
  const rerank = Math.max(k, options.rerank ?? manifest.params.rerank);
  const stats: SearchStats = { shards: 0, records: 0, bytes: 0, fetchedBytes: 0, roundTrips: 0, kvMs: 0 };

  const nearest = nearestLeaves(routing, q, nprobe, options.scanLeaves ?? manifest.params.scanLeaves);
  const leaves = withinBudget(h, nearest, options.maxShardBytes ?? manifest.params.maxShardBytes);
  const shards = await fetchShards(h, leaves, stats);
  stats.shards = shards.length;
  const keys = rankEntries(shards, pqTable(q, routing.codebooks, routing.pqM), routing.pqM, rerank);

  const records = await fetchRecords(h, keys, stats);
  stats.records = records.length;
  const final = new TopK(k);
  records.forEach((r, i) => final.push(i, dotInt8(q, r.codes, 0, routing.dim) * r.record.s));
  const results = final.entries().map(({ id, score }) => {
    const r = records[id].record;
    return { id: r.id, score, text: r.text, meta: r.meta };
  });
  return { results, stats };
}
