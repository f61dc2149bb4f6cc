// Query-time search over the index format (format.ts), shared by the Worker (KV)
// and the Node tools (files). Two sequential rounds at most:
//   1. the shards of the nprobe leaves nearest to the query, ranked by PQ codes;
//   2. the records of the best `rerank` candidates, re-scored with int8 vectors.
// Whatever the source, a missing or corrupt value is an IndexError, never a
// silently smaller answer.
import { decodeRouting, decodeShard, itemKey, textToBlob, ITEM_KEY_BYTES, FormatError, type ItemRecord, type Routing, type Shard } from "./format.ts";
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

/** A read that fails (KV quota, outage) is transient: index_unavailable, unlike a missing or corrupt value. */
async function readTexts(source: BlobSource, keys: string[]): Promise<Map<string, string | null>> {
  try {
    return await source.getTexts(keys);
  } catch (e) {
    if (e instanceof IndexError) throw e;
    throw new IndexError("index_unavailable", `index read of ${keys.length} key(s) failed: ${e instanceof Error ? e.message : String(e)}`);
  }
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
}

export interface SearchOptions {
  k: number;
  nprobe?: number;
  rerank?: number;
  /** Round-1 byte budget: probing stops before the shard that would exceed it. */
  maxShardBytes?: number;
}

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
  const ref = manifest.routing;
  const text = (await readTexts(source, [ref.key])).get(ref.key);
  if (text == null) throw new IndexError("index_unavailable", `routing blob ${ref.key} is missing`);
  if ((await sha256Hex(text)) !== ref.sha256) throw new IndexError("index_corrupt", `routing blob ${ref.key} fails its checksum`);
  let routing: Routing;
  try {
    routing = decodeRouting(textToBlob(text));
  } catch (e) {
    throw new IndexError("index_corrupt", `routing blob ${ref.key}: ${(e as Error).message}`);
  }
  if (routing.leaves !== manifest.shards.length || routing.dim !== manifest.dim) {
    throw new IndexError("index_corrupt", `routing blob ${ref.key} disagrees with the manifest`);
  }
  return { manifest, routing, source, cache };
}

/** The nprobe leaves whose centroids score highest against q, best first. */
export function nearestLeaves(routing: Routing, q: Float32Array, nprobe: number): number[] {
  const { leaves, dim, centroids, centroidScales, leafSizes } = routing;
  const scores = new Float32Array(leaves);
  for (let l = 0; l < leaves; l++) scores[l] = leafSizes[l] > 0 ? dotInt8(q, centroids, l * dim, dim) * centroidScales[l] : -Infinity;
  // Threshold from a sorted copy, then sort only the few above it: a bounded
  // insertion list costs O(leaves · nprobe), which dominated the query at 2k leaves.
  const want = Math.min(nprobe, leaves);
  const sorted = scores.slice().sort();
  const threshold = sorted[leaves - want];
  const picked: number[] = [];
  for (let l = 0; l < leaves; l++) if (scores[l] >= threshold && scores[l] > -Infinity) picked.push(l);
  picked.sort((a, b) => scores[b] - scores[a] || a - b);
  return picked.length > want ? picked.slice(0, want) : picked;
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
    used += h.manifest.shards[leaves[i]].bytes;
    if (used > budget && i > 0) return leaves.slice(0, i);
  }
  return leaves;
}

const encoder = new TextEncoder();

async function fetchShards(h: IndexHandle, leaves: number[], stats: SearchStats): Promise<Shard[]> {
  const refs = leaves.map((l) => h.manifest.shards[l]);
  const out: Shard[] = new Array(refs.length);
  const missing: number[] = [];
  refs.forEach((ref, i) => {
    const hit = h.cache?.get(ref.key) as Shard | undefined;
    stats.bytes += ref.bytes;
    if (hit) out[i] = hit;
    else missing.push(i);
  });
  if (missing.length === 0) return out;
  stats.roundTrips++;
  const texts = await readTexts(h.source, missing.map((i) => refs[i].key));
  await Promise.all(
    missing.map(async (i) => {
      const ref = refs[i];
      const text = texts.get(ref.key);
      if (text == null) throw new IndexError("shard_missing", `shard ${ref.key} (leaf ${leaves[i]}) is missing`);
      stats.fetchedBytes += text.length;
      if (text.length !== ref.bytes || (await sha256Hex(text)) !== ref.sha256) {
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
  stats.roundTrips++;
  const texts = await readTexts(h.source, missing.map((i) => keys[i]));
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

export async function searchVector(h: IndexHandle, q: Float32Array, options: SearchOptions): Promise<{ results: SearchHit[]; stats: SearchStats }> {
  const { routing, manifest } = h;
  if (q.length !== routing.dim) throw new Error(`query has ${q.length} dimensions, the index ${routing.dim}`);
  const k = options.k;
  const nprobe = Math.max(1, options.nprobe ?? manifest.params.nprobe);
  const rerank = Math.max(k, options.rerank ?? manifest.params.rerank);
  const stats: SearchStats = { shards: 0, records: 0, bytes: 0, fetchedBytes: 0, roundTrips: 0 };

  const leaves = withinBudget(h, nearestLeaves(routing, q, nprobe), options.maxShardBytes ?? manifest.params.maxShardBytes);
  const shards = await fetchShards(h, leaves, stats);
  stats.shards = shards.length;

  // Round 1 ranking; an item duplicated across leaves has identical codes, so
  // keeping extra candidates and dropping repeats afterwards is exact.
  const table = pqTable(q, routing.codebooks, routing.pqM);
  const slack = manifest.params.dupMax > 1 ? rerank * 2 : rerank;
  const top = new TopK(slack);
  const pqM = routing.pqM;
  shards.forEach((s, si) => {
    for (let e = 0; e < s.count; e++) {
      const score = pqScore(table, s.codes, e * pqM, pqM);
      if (score > top.threshold) top.push(si * 0x100000 + e, score);
    }
  });
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const { id } of top.entries()) {
    const s = shards[Math.floor(id / 0x100000)];
    const key = itemKey(s.keys, id % 0x100000);
    if (seen.has(key)) continue;
    seen.add(key);
    keys.push(key);
    if (keys.length === rerank) break;
  }

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
