// One round to the index store, and the verified, cached reads built on it: a
// value is checked against the hash its key names before it is decoded, and a
// missing or corrupt value is an IndexError, never a silently smaller answer.
import { FormatError, ITEM_KEY_BYTES, textToBlob, type ItemRecord } from "./format.ts";
import { ByteLru } from "./lru.ts";
import { sha256Hex } from "./sha256.ts";

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

export interface FilterStats {
  /**
   * "scan": every item the filter can match was scored (value-order chunks);
   * "values": every item the filter can match in the query's nearest cells
   * (value-order chunks, nearest first); "cells": the matching items of the
   * query's nearest cells (cell-order chunks); "probe": the nearest leaves
   * that can hold a match.
   */
  plan: "scan" | "values" | "cells" | "probe";
  /** Items the filter table says may match (an upper bound). */
  estimate: number;
  /** Entries scored, and of them the ones that passed the filter. */
  scored: number;
  matched: number;
}

export interface SearchStats {
  /** Shards (or, for a scanned filter, column chunks) the query needed, and item records re-ranked. */
  shards: number;
  records: number;
  /** Of those records, the ones scored from the isolate's resident copy (lib/index/resident.ts) rather than read. */
  resident: number;
  /** Bytes of index values the query needed (cache hits included). */
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
  /** Present when the query had a filter. */
  filter?: FilterStats;
}

export function emptyStats(): SearchStats {
  return { shards: 0, records: 0, resident: 0, bytes: 0, fetchedBytes: 0, roundTrips: 0, kvMs: 0 };
}

export interface DecodedRecord {
  /** The record without its base64 vector, which `codes` holds decoded (a cached record would otherwise keep both). */
  record: Omit<ItemRecord, "v">;
  codes: Int8Array;
  bytes: number;
}

/**
 * The isolate's decoded values, in three budgets: index blobs (shards, filter
 * attributes and chunks), each shared by every query near its leaf; lexicon
 * parts, each shared by the queries with a term in it; and item records, each
 * useful only to queries near that one item. In one LRU the stream of records
 * (a new set for each new query) evicted the shards, and warm queries went back
 * to KV for shards that a separate budget keeps (docs/decisions.md#record-cache);
 * lexicon parts did the same to shards once hybrid search cached them beside
 * them, and a query needs far more shards than parts.
 */
export interface ValueCache {
  blobs: ByteLru<unknown>;
  lexicon: ByteLru<unknown>;
  records: ByteLru<DecodedRecord>;
}

export function valueCache(blobBytes: number, recordBytes: number, lexiconBytes: number): ValueCache {
  return { blobs: new ByteLru(blobBytes), lexicon: new ByteLru(lexiconBytes), records: new ByteLru(recordBytes) };
}

/**
 * What a cached blob costs besides its buffers: its key, its LRU slot, the
 * decoded object and its typed-array views. A bound, rounded up, of what a heap
 * snapshot of the Worker shows per entry (docs/decisions.md#cache-accounting).
 */
export const BLOB_ENTRY_BYTES = 512;

/**
 * The bytes a decoded value keeps alive: the distinct ArrayBuffers under its
 * typed arrays, its own fields and one level of nested objects (a lexicon
 * part's postings). format.ts's decoders return views on the decoded bytes, so
 * that is the whole decoded value, and a copy (an unaligned Float64Array) is
 * counted beside the buffer it was copied from.
 */
export function retainedBytes(value: unknown): number {
  const buffers = new Set<ArrayBufferLike>();
  const visit = (v: unknown, depth: number): void => {
    if (ArrayBuffer.isView(v)) buffers.add(v.buffer);
    else if (depth > 0 && typeof v === "object" && v !== null) for (const x of Object.values(v)) visit(x, depth - 1);
  };
  visit(value, 2);
  let bytes = 0;
  for (const b of buffers) bytes += b.byteLength;
  return bytes;
}

/** A blob's charge against its budget: what it holds on the isolate's heap, not its stored (base64) size. */
export function blobCharge(value: unknown): number {
  return retainedBytes(value) + BLOB_ENTRY_BYTES;
}

/** A content-addressed binary value: where it is, what it must hash to, how to decode it. */
export interface BlobRef<T> {
  key: string;
  bytes: number;
  /** Hex prefix of the sha256 the text must have. */
  sha: string;
  /** For error messages, e.g. "shard blob/… (leaf 12)". */
  what: string;
  decode(bytes: Uint8Array): T;
  /** The cache budget it is kept in: "lexicon" for lexicon parts and postings tails, the index's otherwise. */
  budget?: "lexicon";
}

/** One round to the source; a source that fails (quota, outage) is unavailable, not a bug. */
export async function read(source: BlobSource, keys: string[], stats: SearchStats): Promise<Map<string, string | null>> {
  stats.roundTrips++;
  const t0 = performance.now();
  try {
    return await source.getTexts(keys);
  } catch (e) {
    throw new IndexError("index_unavailable", `the index store could not be read: ${(e as Error).message}`);
  } finally {
    stats.kvMs += performance.now() - t0;
  }
}

/** The budget a value is cached in: lexicon values (format.ts §10–11) have their own, every other blob shares the index's. */
function lruFor(cache: ValueCache, ref: BlobRef<unknown>): ByteLru<unknown> {
  return ref.budget === "lexicon" ? cache.lexicon : cache.blobs;
}

/** The values of `refs`, in order, from the cache or in one round; a decode that throws means corrupt. */
export async function fetchBlobs<T>(source: BlobSource, cache: ValueCache | null, refs: BlobRef<T>[], stats: SearchStats): Promise<T[]> {
  const out: T[] = new Array(refs.length);
  const missing: number[] = [];
  refs.forEach((ref, i) => {
    const hit = cache ? (lruFor(cache, ref).get(ref.key) as T | undefined) : undefined;
    stats.bytes += ref.bytes;
    if (hit) out[i] = hit;
    else missing.push(i);
  });
  if (missing.length === 0) return out;
  const texts = await read(source, missing.map((i) => refs[i].key), stats);
  await Promise.all(
    missing.map(async (i) => {
      const ref = refs[i];
      const text = texts.get(ref.key);
      if (text == null) throw new IndexError("shard_missing", `${ref.what} is missing`);
      stats.fetchedBytes += text.length;
      if (text.length !== ref.bytes || !(await sha256Hex(text)).startsWith(ref.sha)) throw new IndexError("shard_corrupt", `${ref.what} fails its checksum`);
      let value: T;
      try {
        value = ref.decode(textToBlob(text));
      } catch (e) {
        throw new IndexError("shard_corrupt", `${ref.what}: ${(e as Error).message}`);
      }
      if (cache) lruFor(cache, ref).set(ref.key, value, blobCharge(value));
      out[i] = value;
    }),
  );
  return out;
}

const encoder = new TextEncoder();

/** Item records by key, verified against the sha256 prefix their key is. */
export async function fetchRecords(source: BlobSource, cache: ValueCache | null, keys: string[], dim: number, stats: SearchStats): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = new Array(keys.length);
  const missing: number[] = [];
  keys.forEach((key, i) => {
    const hit = cache?.records.get(key);
    if (hit) {
      out[i] = hit;
      stats.bytes += hit.bytes;
    } else missing.push(i);
  });
  if (missing.length === 0) return out;
  const texts = await read(source, missing.map((i) => keys[i]), stats);
  await Promise.all(
    missing.map(async (i) => {
      const key = keys[i];
      const text = texts.get(key);
      if (text == null) throw new IndexError("record_missing", `item record ${key} is missing`);
      // Encoded once: its length is the record's size, its bytes what the key hashes.
      const utf8 = encoder.encode(text);
      const bytes = utf8.length;
      stats.bytes += bytes;
      stats.fetchedBytes += bytes;
      const digest = await sha256Hex(utf8);
      if (digest.slice(0, ITEM_KEY_BYTES * 2) !== key.slice(5)) throw new IndexError("shard_corrupt", `item record ${key} fails its checksum`);
      let record: DecodedRecord["record"];
      let codes: Int8Array;
      try {
        const { v, ...rest } = JSON.parse(text) as ItemRecord;
        record = rest;
        const raw = textToBlob(v);
        codes = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
        if (codes.length !== dim) throw new FormatError("vector has the wrong length");
      } catch (e) {
        throw new IndexError("shard_corrupt", `item record ${key}: ${(e as Error).message}`);
      }
      const decoded = { record, codes, bytes };
      cache?.records.set(key, decoded, bytes * 2);
      out[i] = decoded;
    }),
  );
  return out;
}
