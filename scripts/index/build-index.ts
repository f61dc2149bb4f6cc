// Embeddings + items → the blobs of one index version (format.ts), in memory.
// Nothing here touches the file system or KV; write-artifacts.ts does.
import { createHash } from "node:crypto";
import { encodeRouting, encodeShard, blobToText, hex, ITEM_KEY_BYTES, type ItemRecord, type Routing, type Shard } from "../../lib/index/format.ts";
import { dotInt8 } from "../../lib/index/vector.ts";
import type { BlobRef, IndexParams } from "../../lib/index/manifest.ts";
import { quantizeInt8 } from "../../lib/index/quantize.ts";
import { toBase64 } from "../../lib/index/base64.ts";
import { blobKeyFor } from "../../lib/index/sha256.ts";
import type { CorpusItem } from "../corpus/read-corpus.ts";
import { assignLeaves, buildPartition } from "./partition.ts";
import { encodeAll, trainCodebooks } from "./pq.ts";

export interface TextBlob {
  ref: BlobRef;
  text: string;
}

export interface BuiltIndex {
  params: IndexParams;
  routing: TextBlob;
  shards: TextBlob[];
  /** In item order; key is `item/<16 hex>`. */
  records: Array<{ key: string; text: string; bytes: number }>;
  catalog: TextBlob;
  timings: Record<string, number>;
}

export const DEFAULT_PARAMS = {
  /** Smaller leaves cut bytes per unit of recall (50k headlines: 24 beats 48 by ~20% at recall 0.97); the routing blob grows as n / leafSize. */
  leafSize: 24,
  pqM: 64,
  rerank: 60,
  nprobe: 64,
  /** Measured on the 50k ABC headlines (leaf size 24, rerank 60): 320 KB of shards at nprobe 128 → recall@10 0.973, ≤ 368 KB a query. */
  maxShardBytes: 320 * 1024,
  dupEps: 0,
  dupMax: 1,
  seed: 7,
};

export type BuildIndexOptions = Partial<typeof DEFAULT_PARAMS>;

export function textBlob(text: string): TextBlob {
  const sha256 = createHash("sha256").update(text).digest("hex");
  return { ref: { key: blobKeyFor(sha256), bytes: Buffer.byteLength(text), sha256 }, text };
}

export function itemRecordText(item: CorpusItem, v: Float32Array): string {
  const q = quantizeInt8(v);
  const record: ItemRecord = { id: item.id, text: item.text, meta: item.meta, s: q.scale, v: toBase64(new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.length)) };
  return JSON.stringify(record);
}

/**
 * A previous version to extend rather than rebuild: its leaves and codebooks are
 * kept, items it already had stay in their leaves in their order, and new items
 * join their nearest leaf. Leaves that gained or lost no item come out
 * byte-identical, so their content-addressed shards need no upload.
 */
export interface BaseIndex {
  routing: Routing;
  shards: Shard[];
}

export function buildIndex(
  vectors: Float32Array,
  dim: number,
  items: readonly CorpusItem[],
  options: BuildIndexOptions = {},
  log: (s: string) => void = () => {},
  base?: BaseIndex,
): BuiltIndex {
  const o = { ...DEFAULT_PARAMS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const n = items.length;
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = (now - t) / 1000;
    t = now;
    log(`${name}: ${timings[name].toFixed(1)} s`);
  };

  // Records first: their hashes are the keys the posting lists point at.
  const records: BuiltIndex["records"] = new Array(n);
  const keyBytes = new Uint8Array(n * ITEM_KEY_BYTES);
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const text = itemRecordText(items[i], vectors.subarray(i * dim, (i + 1) * dim));
    const digest = createHash("sha256").update(text).digest();
    keyBytes.set(digest.subarray(0, ITEM_KEY_BYTES), i * ITEM_KEY_BYTES);
    const key = `item/${hex(digest, 0, ITEM_KEY_BYTES)}`;
    const prev = seen.get(key);
    if (prev !== undefined) throw new Error(`item key collision between ids ${items[prev].id} and ${items[i].id}; this needs a wider key`);
    seen.set(key, i);
    records[i] = { key, text, bytes: Buffer.byteLength(text) };
  }
  lap("records");

  let leaves: number;
  let members: number[][];
  let codebooks: Float32Array;
  let centroids: Int8Array;
  let centroidScales: Float32Array;
  if (base) {
    if (base.routing.dim !== dim || base.routing.pqM !== o.pqM) throw new Error("the base index has other dimensions or pqM; rebuild without it");
    leaves = base.routing.leaves;
    ({ centroids, centroidScales, codebooks } = base.routing);
    const rowOf = new Map<string, number>(records.map((r, i) => [r.key, i]));
    members = Array.from({ length: leaves }, () => []);
    const placed = new Uint8Array(n);
    for (const sh of base.shards) {
      for (let e = 0; e < sh.count; e++) {
        const row = rowOf.get(`item/${hex(sh.keys, e * ITEM_KEY_BYTES, (e + 1) * ITEM_KEY_BYTES)}`);
        if (row === undefined) continue;
        members[sh.leaf].push(row);
        placed[row] = 1;
      }
    }
    let added = 0;
    for (let i = 0; i < n; i++) {
      if (placed[i]) continue;
      const q = vectors.subarray(i * dim, (i + 1) * dim);
      let best = 0;
      let bestS = -Infinity;
      for (let l = 0; l < leaves; l++) {
        const sc = dotInt8(q, centroids, l * dim, dim) * centroidScales[l];
        if (sc > bestS) {
          bestS = sc;
          best = l;
        }
      }
      members[best].push(i);
      added++;
    }
    log(`extending the base index: ${n - added} items kept in place, ${added} assigned`);
    lap("assign");
  } else {
    const partition = buildPartition(vectors, dim, n, Math.max(1, Math.round(n / o.leafSize)), o.seed);
    lap("partition");
    leaves = partition.leaves;
    members = Array.from({ length: leaves }, () => []);
    for (let i = 0; i < n; i++) for (const l of assignLeaves(partition, vectors, i * dim, o.dupMax, o.dupEps)) members[l].push(i);
    lap("assign");
    codebooks = trainCodebooks(vectors, dim, n, o.pqM, { seed: o.seed + 4 });
    lap("pq-train");
    centroids = new Int8Array(leaves * dim);
    centroidScales = new Float32Array(leaves);
    for (let l = 0; l < leaves; l++) {
      centroidScales[l] = quantizeInt8(partition.centroids.subarray(l * dim, (l + 1) * dim), centroids.subarray(l * dim, (l + 1) * dim)).scale;
    }
  }
  const codes = encodeAll(vectors, dim, n, codebooks, o.pqM);
  lap("pq-encode");

  const shards: TextBlob[] = members.map((m, leaf) => {
    const k = new Uint8Array(m.length * ITEM_KEY_BYTES);
    const c = new Uint8Array(m.length * o.pqM);
    m.forEach((i, j) => {
      k.set(keyBytes.subarray(i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES), j * ITEM_KEY_BYTES);
      c.set(codes.subarray(i * o.pqM, (i + 1) * o.pqM), j * o.pqM);
    });
    return textBlob(blobToText(encodeShard({ leaf, count: m.length, pqM: o.pqM, keys: k, codes: c })));
  });

  const routing = textBlob(
    blobToText(
      encodeRouting({ dim, pqM: o.pqM, leaves, centroids, centroidScales, codebooks, leafSizes: Uint32Array.from(members, (m) => m.length) }),
    ),
  );

  const catalog = new Uint8Array(4 + n * (ITEM_KEY_BYTES + 4));
  const cv = new DataView(catalog.buffer);
  cv.setUint32(0, n, true);
  for (let i = 0; i < n; i++) {
    catalog.set(keyBytes.subarray(i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES), 4 + i * (ITEM_KEY_BYTES + 4));
    cv.setUint32(4 + i * (ITEM_KEY_BYTES + 4) + ITEM_KEY_BYTES, records[i].bytes, true);
  }
  lap("shards");

  const params: IndexParams = { leaves, pqM: o.pqM, nprobe: Math.min(o.nprobe, leaves), rerank: o.rerank, dupEps: o.dupEps, dupMax: o.dupMax, seed: o.seed, maxShardBytes: o.maxShardBytes };
  return { params, routing, shards, records, catalog: textBlob(blobToText(catalog)), timings };
}
