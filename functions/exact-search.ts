// Bench-only brute force: every item record of the index, read from KV and
// scored with its int8 vector — the slow, (almost) perfect reference the bench
// compares the index against, inside the same Worker. Reachable only through
// functions/test-entry.ts, a bundle the tests and the bench build for
// themselves; the deployed Worker (worker.ts) does not contain it.
//
// The catalog (manifest.catalog's parts) lists every item key; the records go out
// in rounds of ROUND_KEYS keys (each round is parallel bulk reads of ≤100 keys)
// and only the best k stay in memory, so the isolate never holds the corpus.
// Records are not hash-checked here: this path answers "what would reading
// everything cost", not "is the store intact".
import { decodeCatalog, joinParts, textToBlob, type ItemRecord } from "../lib/index/format.ts";
import { IndexError, type IndexHandle, type SearchStats } from "../lib/index/reader.ts";
import type { CompiledFilter } from "../lib/filter/compile.ts";
import { matches } from "../lib/filter/match.ts";
import { encodeValue } from "../lib/filter/values.ts";
import { sha256Hex } from "../lib/index/sha256.ts";
import { dotInt8, TopK } from "../lib/index/vector.ts";
import type { SearchOutcome } from "./search-adapter.ts";
import { emptyStats } from "../lib/index/fetch.ts";

/** Where functions/test-entry.ts serves it (same parameters and answer as GET /v1/search). */
export const EXACT_SEARCH_PATH = "/test/exact-search";

// Small rounds keep the working set small: the isolate already holds the model
// and the shard cache, and must stay under its memory limit while it scans.
const ROUND_KEYS = 300;
const encoder = new TextEncoder();

async function catalogKeys(h: IndexHandle, stats: SearchStats): Promise<string[]> {
  const refs = h.manifest.catalog;
  stats.roundTrips++;
  const texts = await h.source.getTexts(refs.map((r) => r.key));
  const parts: string[] = [];
  for (const ref of refs) {
    const text = texts.get(ref.key);
    if (text == null) throw new IndexError("shard_missing", `catalog part ${ref.key} is missing`);
    stats.bytes += text.length;
    stats.fetchedBytes += text.length;
    if ((await sha256Hex(text)) !== ref.sha256) throw new IndexError("shard_corrupt", `catalog part ${ref.key} fails its checksum`);
    parts.push(text);
  }
  try {
    return decodeCatalog(joinParts(parts)).map((e) => e.key);
  } catch (e) {
    throw new IndexError("shard_corrupt", `catalog: ${(e as Error).message}`);
  }
}

/** Does a record's metadata pass the filter, encoded as the build encodes it? */
function recordMatches(h: IndexHandle, filter: CompiledFilter, record: ItemRecord): boolean {
  const fields = h.filters?.fields ?? [];
  return matches(filter, (f) => encodeValue(fields[f], record.meta[fields[f].name]) ?? NaN);
}

export async function exactSearch(h: IndexHandle | null, q: Float32Array, k: number, filter: CompiledFilter | null = null): Promise<SearchOutcome> {
  if (!h) throw new IndexError("index_unavailable", "this manifest names a model but no searchable index");
  const stats: SearchStats = emptyStats();
  const keys = await catalogKeys(h, stats);
  const dim = h.routing.dim;
  const top = new TopK(k);
  const kept = new Map<number, ItemRecord>();
  for (let start = 0; start < keys.length; start += ROUND_KEYS) {
    const batch = keys.slice(start, start + ROUND_KEYS);
    stats.roundTrips++;
    const texts = await h.source.getTexts(batch);
    batch.forEach((key, j) => {
      const text = texts.get(key);
      if (text == null) throw new IndexError("shard_missing", `item record ${key} is missing`);
      const size = encoder.encode(text).length;
      stats.bytes += size;
      stats.fetchedBytes += size;
      stats.records++;
      const record = JSON.parse(text) as ItemRecord;
      if (filter && !recordMatches(h, filter, record)) return;
      const raw = textToBlob(record.v);
      const score = dotInt8(q, new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength), 0, dim) * record.s;
      if (score > top.threshold) {
        top.push(start + j, score);
        kept.set(start + j, record);
      }
    });
    const live = new Set(top.entries().map((e) => e.id));
    for (const id of kept.keys()) if (!live.has(id)) kept.delete(id);
  }
  const results = top.entries().map(({ id, score }) => {
    const r = kept.get(id)!;
    return { id: r.id, score, text: r.text, meta: r.meta };
  });
  return { results, stats };
}
