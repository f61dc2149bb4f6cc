// The Worker's side of the index: KV as a BlobSource for lib/index/reader.ts.
// Decoded shards, lexicon parts and item records are cached per isolate in byte-bounded LRUs;
// their keys are content addresses, so versions can share entries and an entry
// can never belong to the wrong version.
import type { Manifest } from "../lib/index/manifest.ts";
import type { CompiledFilter } from "../lib/filter/compile.ts";
import { IndexError, openIndex, searchVector, type BlobSource, type IndexHandle, type SearchHit, type SearchStats } from "../lib/index/reader.ts";
import { valueCache, type ValueCache } from "../lib/index/fetch.ts";
import type { Config } from "./config.ts";
import { ModeUnavailableError, searchMode, type ModeResult } from "../lib/lexical/hybrid.ts";
import { HttpError } from "./http.ts";
import type { ModeRequest } from "./search-mode.ts";

export { IndexError, type SearchHit };

export interface SearchOutcome {
  results: SearchHit[];
  stats: SearchStats;
}

/** KV bulk reads take at most 100 keys; larger sets go out as parallel reads in the same round. */
const KV_BULK_LIMIT = 100;
let cache: ValueCache | undefined;

/** The isolate's one cache of decoded values, sized by the first config that asks (vars are fixed per deployment). */
export function isolateCache(budget: Pick<Config, "shardCacheBytes" | "recordCacheBytes" | "lexiconCacheBytes">): ValueCache {
  cache ??= valueCache(budget.shardCacheBytes, budget.recordCacheBytes, budget.lexiconCacheBytes);
  return cache;
}

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
  async open(manifest: unknown, kv: KVNamespace, cache: ValueCache): Promise<IndexHandle | null> {
    if (!isIndexManifest(manifest)) return null;
    return openIndex(manifest, kvSource(kv), cache);
  },

  async search(handle: IndexHandle | null, vector: Float32Array, k: number, filter: CompiledFilter | null = null): Promise<SearchOutcome> {
    if (!handle) throw new IndexError("index_unavailable", "this manifest names a model but no searchable index");
    return searchVector(handle, vector, { k, filter });
  },

  /** A query in its mode (lib/lexical/hybrid.ts): semantic, lexical or hybrid; a mode the index cannot serve is a 400. */
  async query(handle: IndexHandle | null, text: string, vector: Float32Array, k: number, filter: CompiledFilter | null, search: ModeRequest): Promise<ModeResult> {
    if (!handle) throw new IndexError("index_unavailable", "this manifest names a model but no searchable index");
    try {
      return await searchMode(handle, { text, vector }, { k, filter, ...search });
    } catch (e) {
      if (e instanceof ModeUnavailableError) throw new HttpError("mode_unavailable", e.message, { param: "mode" });
      throw e;
    }
  },
};

/** An exact (bench-only) search's outcome in the shape of a semantic one. */
export function semanticOutcome(o: SearchOutcome): ModeResult {
  return { mode: "semantic", fusion: null, results: o.results.map((r) => ({ ...r, scores: { semantic: r.score, lexical: null } })), stats: o.stats };
}
