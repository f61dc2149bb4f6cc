// The Worker's side of the index: KV as a BlobSource for lib/index/reader.ts.
// Decoded shards and item records are cached per isolate in one byte-bounded LRU;
// their keys are content addresses, so versions can share entries and an entry
// can never belong to the wrong version.
import { ByteLru } from "../lib/index/lru.ts";
import type { Manifest } from "../lib/index/manifest.ts";
import type { CompiledFilter } from "../lib/filter/compile.ts";
import { IndexError, openIndex, searchVector, type BlobSource, type IndexHandle, type SearchHit, type SearchStats } from "../lib/index/reader.ts";
import type { ValueCache } from "../lib/index/fetch.ts";

export { IndexError, type SearchHit };

export interface SearchOutcome {
  results: SearchHit[];
  stats: SearchStats;
}

/** KV bulk reads take at most 100 keys; larger sets go out as parallel reads in the same round. */
const KV_BULK_LIMIT = 100;
/**
 * Memory budget (measured locally, heap after a full GC): wasm heap 50.9 MiB
 * once the model is loaded, 53–54 MiB after traffic (weights, XNNPACK packed
 * copies, activations; tf-wasm.ts grows it only by what malloc asks), JS heap
 * ~9 MiB idle and ~16 MiB with the cache in use. After the 60 s load test and
 * three bursts of maximal batches the isolate measured ~70 MiB with 12 MiB of
 * cache. The charges (shard base64 length; 2x a record's UTF-8 length) are at
 * or above what the decoded values hold on the heap.
 */
const SHARD_CACHE_BYTES = 12 * 1024 * 1024;
const cache: ValueCache = new ByteLru(SHARD_CACHE_BYTES);

export function kvSource(kv: KVNamespace): BlobSource {
  return {
    async getTexts(keys) {
      const chunks: string[][] = [];
      for (let i = 0; i < keys.length; i += KV_BULK_LIMIT) chunks.push(keys.slice(i, i + KV_BULK_LIMIT));
      const maps = await Promise.all(chunks.map((c) => kv.get(c, "text")));
      const out = new Map<string, string | null>();
      for (const m of maps) for (const [k, v] of m) out.set(k, v);
      return out;
    },
  };
}

function isIndexManifest(m: unknown): m is Manifest {
  const x = m as Manifest;
  return typeof x === "object" && x !== null && Array.isArray(x.routing) && Array.isArray(x.catalog) && typeof x.params?.nprobe === "number";
}

export const indexAdapter = {
  /** A manifest without an index (model only) opens, and answers searches with index_unavailable. */
  async open(manifest: unknown, kv: KVNamespace): Promise<IndexHandle | null> {
    if (!isIndexManifest(manifest)) return null;
    return openIndex(manifest, kvSource(kv), cache);
  },

  async search(handle: IndexHandle | null, vector: Float32Array, k: number, filter: CompiledFilter | null = null): Promise<SearchOutcome> {
    if (!handle) throw new IndexError("index_unavailable", "this manifest names a model but no searchable index");
    return searchVector(handle, vector, { k, filter });
  },
};
