// TEMPORARY ADAPTER — replace with lib/index/reader.ts (`openIndex`, `searchVector`)
// once the lead's index format lands. The Worker only depends on the `IndexAdapter`
// interface below; swapping the implementation must not touch any route.
//
// Until then this understands one throwaway layout so the HTTP path can be tested
// end to end: `manifest.tempFlat = { vectors: BlobRef (float32 rows of 512),
// items: BlobRef (JSON [{id,text,meta}]) }`, searched by brute force. A manifest
// without it (model only) opens fine and answers searches with `index_unavailable`.
import type { BlobRef } from "../lib/index/manifest.ts";
import { EMBEDDING_DIM } from "../lib/model/embed.ts";

export interface SearchHit {
  id: string;
  score: number;
  text: string;
  meta: Record<string, string>;
}

export interface SearchOutcome {
  results: SearchHit[];
  stats: { shards: number; bytes: number; roundTrips: number };
}

/** Errors the Worker maps to 503; anything else is a 500. */
export class IndexError extends Error {
  constructor(
    readonly code: "shard_missing" | "shard_corrupt" | "index_unavailable" | "index_corrupt",
    message: string,
  ) {
    super(message);
  }
}

export interface IndexAdapter<H> {
  open(manifest: unknown, kv: KVNamespace): Promise<H>;
  search(handle: H, vector: Float32Array, k: number): Promise<SearchOutcome>;
}

interface TempFlat {
  vectors: BlobRef;
  items: BlobRef;
}

interface Handle {
  kv: KVNamespace;
  flat?: TempFlat;
  loaded?: Promise<{ vectors: Float32Array; items: Array<Omit<SearchHit, "score">>; bytes: number }>;
}

async function readBlob(kv: KVNamespace, ref: BlobRef): Promise<ArrayBuffer> {
  const data = await kv.get(ref.key, "arrayBuffer");
  if (data === null) throw new IndexError("shard_missing", `shard ${ref.key} not found in KV`);
  if (data.byteLength !== ref.bytes) throw new IndexError("shard_corrupt", `shard ${ref.key}: ${data.byteLength} bytes, manifest says ${ref.bytes}`);
  return data;
}

export const indexAdapter: IndexAdapter<Handle> = {
  async open(manifest, kv) {
    const flat = (manifest as { tempFlat?: TempFlat }).tempFlat;
    return { kv, flat };
  },

  async search(handle, vector, k) {
    const flat = handle.flat;
    if (!flat) throw new IndexError("index_unavailable", "this manifest names a model but no searchable index");
    handle.loaded ??= (async () => {
      const [v, i] = await Promise.all([readBlob(handle.kv, flat.vectors), readBlob(handle.kv, flat.items)]);
      const vectors = new Float32Array(v);
      let items: Array<Omit<SearchHit, "score">>;
      try {
        items = JSON.parse(new TextDecoder().decode(i));
      } catch {
        throw new IndexError("shard_corrupt", `shard ${flat.items.key} is not JSON`);
      }
      if (vectors.length !== items.length * EMBEDDING_DIM) throw new IndexError("shard_corrupt", "vector and item counts disagree");
      return { vectors, items, bytes: v.byteLength + i.byteLength };
    })().catch((err) => {
      handle.loaded = undefined;
      throw err;
    });
    const { vectors, items, bytes } = await handle.loaded;
    const scored: Array<[number, number]> = [];
    for (let r = 0; r < items.length; r++) {
      let s = 0;
      const o = r * EMBEDDING_DIM;
      for (let d = 0; d < EMBEDDING_DIM; d++) s += vectors[o + d] * vector[d];
      scored.push([s, r]);
    }
    scored.sort((a, b) => b[0] - a[0]);
    return {
      results: scored.slice(0, k).map(([score, r]) => ({ ...items[r], score })),
      stats: { shards: 2, bytes, roundTrips: 1 },
    };
  },
};
