// The isolate's value caches (lib/index/fetch.ts): a cached blob is charged
// what it holds in memory (its decoded buffers and a fixed bound for its JS
// objects), not its stored base64 length, and lexicon parts have their own
// budget, so a stream of them cannot evict the shards every query needs.
import { describe, expect, it } from "vitest";
import { BLOB_ENTRY_BYTES, blobCharge, emptyStats, fetchBlobs, retainedBytes, valueCache, type BlobRef, type BlobSource } from "../lib/index/fetch.ts";
import { blobToText, decodeLexiconPart, decodeShard, encodeLexiconPart, encodeShard, type LexiconPart, type Shard } from "../lib/index/format.ts";
import { sha256Hex } from "../lib/index/sha256.ts";
import { termHash } from "../lib/lexical/bm25.ts";

/** A store of texts that counts its reads (one per getTexts call: one round). */
function store(values: Map<string, string>): BlobSource & { reads: number } {
  return {
    reads: 0,
    async getTexts(keys) {
      this.reads++;
      return new Map(keys.map((k) => [k, values.get(k) ?? null]));
    },
  };
}

async function ref<T>(bytes: Uint8Array, decode: (b: Uint8Array) => T, values: Map<string, string>, budget?: "lexicon"): Promise<BlobRef<T>> {
  const text = blobToText(bytes);
  const sha = await sha256Hex(text);
  const key = `blob/${sha.slice(0, 32)}`;
  values.set(key, text);
  return { key, bytes: text.length, sha: sha.slice(0, 32), what: key, decode, ...(budget ? { budget } : {}) };
}

function shardBytes(leaf: number, count: number): Uint8Array {
  const pqM = 32;
  return encodeShard({ leaf, count, pqM, keys: Uint8Array.from({ length: count * 8 }, (_, i) => (i * 7 + leaf) & 255), codes: Uint8Array.from({ length: count * pqM }, (_, i) => (i + leaf) & 255) });
}

function partBytes(words: string[]): Uint8Array {
  const terms = words.map((text) => ({ text, hash: termHash(text) })).sort((a, b) => a.hash - b.hash || (a.text < b.text ? -1 : 1));
  return encodeLexiconPart({
    terms: terms.map((t, i) => ({ ...t, df: 2, postings: { count: 2, keys: Uint8Array.from({ length: 16 }, (_, b) => b + i), dl: Uint16Array.of(4, 5), tf: Uint8Array.of(1, 2) }, tail: null })),
  });
}

describe("the value caches' accounting", () => {
  it("counts the distinct buffers a decoded value's views keep alive, nested ones and copies included", () => {
    const buf = new ArrayBuffer(100);
    const value = { a: new Uint8Array(buf, 0, 10), b: new Uint16Array(buf, 10, 5), n: 3, nested: { c: new Float64Array(3), d: new Uint8Array(buf, 40) } };
    expect(retainedBytes(value)).toBe(100 + 24);
    expect(retainedBytes({ only: "strings" })).toBe(0);
    expect(blobCharge(value)).toBe(124 + BLOB_ENTRY_BYTES);
  });

  it("charges a shard its decoded bytes plus the entry bound, not its base64 length", async () => {
    const values = new Map<string, string>();
    const bytes = shardBytes(3, 24);
    const r = await ref<Shard>(bytes, decodeShard, values);
    const cache = valueCache(1 << 20, 1 << 20, 1 << 20);
    const [shard] = await fetchBlobs(store(values), cache, [r], emptyStats());
    expect(shard.count).toBe(24);
    // 16 header bytes and 24 entries of an 8-byte key and 32 code bytes.
    expect(cache.blobs.bytes).toBe(16 + 24 * 40 + BLOB_ENTRY_BYTES);
    expect(r.bytes).toBe(4 * Math.ceil((16 + 24 * 40) / 3));
    expect(cache.lexicon.bytes).toBe(0);
  });

  it("keeps lexicon parts in their own budget, charged their decoded bytes", async () => {
    const values = new Map<string, string>();
    const part = partBytes(["flood", "polic", "2003"]);
    const r = await ref<LexiconPart>(part, decodeLexiconPart, values, "lexicon");
    const cache = valueCache(1 << 20, 1 << 20, 1 << 20);
    const [decoded] = await fetchBlobs(store(values), cache, [r], emptyStats());
    expect(decoded.terms).toBe(3);
    expect(cache.lexicon.bytes).toBe(part.byteLength + BLOB_ENTRY_BYTES);
    expect(cache.lexicon.size).toBe(1);
    expect(cache.blobs.bytes).toBe(0);
  });

  it("lets a stream of lexicon parts come and go while the shards stay cached", async () => {
    const values = new Map<string, string>();
    const shards = await Promise.all([0, 1, 2].map((l) => ref<Shard>(shardBytes(l, 20), decodeShard, values)));
    const parts = await Promise.all(["flood", "storm", "blaze", "quake"].map((w) => ref<LexiconPart>(partBytes([w]), decodeLexiconPart, values, "lexicon")));
    const shardCharge = 16 + 20 * 40 + BLOB_ENTRY_BYTES;
    // Room for exactly the three shards, and for one part at a time (the parts' words are as long).
    const cache = valueCache(3 * shardCharge, 0, partBytes(["flood"]).byteLength + BLOB_ENTRY_BYTES);
    const src = store(values);
    await fetchBlobs(src, cache, shards, emptyStats());
    for (const p of parts) await fetchBlobs(src, cache, [p], emptyStats());
    expect(cache.blobs.bytes).toBe(3 * shardCharge);
    expect(cache.lexicon.size).toBe(1);
    const reads = src.reads;
    const stats = emptyStats();
    await fetchBlobs(src, cache, shards, stats);
    expect(src.reads).toBe(reads);
    expect(stats).toMatchObject({ roundTrips: 0, fetchedBytes: 0, bytes: shards.reduce((s, r) => s + r.bytes, 0) });
    // The first part was evicted by the later ones: it is read again, one round.
    await fetchBlobs(src, cache, [parts[0]], stats);
    expect(stats.roundTrips).toBe(1);
    expect(stats.fetchedBytes).toBe(parts[0].bytes);
  });

  it("caches nothing in a budget of zero, and an entry larger than its budget is not kept", async () => {
    const values = new Map<string, string>();
    const r = await ref<Shard>(shardBytes(5, 10), decodeShard, values);
    const none = valueCache(0, 0, 0);
    const src = store(values);
    await fetchBlobs(src, none, [r], emptyStats());
    await fetchBlobs(src, none, [r], emptyStats());
    expect(src.reads).toBe(2);
    expect(none.blobs.size).toBe(0);
    const small = valueCache(16 + 10 * 40 + BLOB_ENTRY_BYTES - 1, 0, 0);
    await fetchBlobs(src, small, [r], emptyStats());
    expect(small.blobs.size).toBe(0);
  });
});
