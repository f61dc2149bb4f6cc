// The resident copy of the item records (format.ts, section 8): written only
// when every record fits RESIDENT_MAX_BYTES of isolate memory, so a Worker can
// re-rank from memory instead of reading records from KV.
import { blobToText, encodeResidentBlock, ITEM_KEY_BYTES, type ItemRecord } from "../../../lib/index/format.ts";
import { quantizeInt8 } from "../../../lib/index/quantize.ts";
import type { CorpusItem } from "../corpus/read-corpus.ts";
import { keyHash } from "./filter-values.ts";
import { textBlob, type TextBlob } from "./text-blob.ts";

const MiB = 1024 * 1024;
/**
 * The largest resident copy a build writes. Beside the model (the wasm heap)
 * and the JS heap and caches, this much more keeps the isolate
 * inside Workers' 128 MB with a margin (docs/decisions.md#resident-copy-budget).
 */
export const RESIDENT_MAX_BYTES = 32 * MiB;
/**
 * A block ends after an item whose key hash is 0 mod this, once it has
 * BLOCK_MIN_ITEMS, and always before BLOCK_MAX_BYTES: a few thousand items a
 * block, so a loading isolate holds one block's base64 text at a time beside
 * what it keeps, and an appended item changes only the last block.
 */
const BLOCK_TARGET_ITEMS = 4096;
const BLOCK_MIN_ITEMS = 1024;
const BLOCK_MAX_BYTES = 8 * MiB;
/** Per entry besides its vector and JSON: key, stored size, scale, text offset. */
const ENTRY_FIXED_BYTES = ITEM_KEY_BYTES + 12;

export interface ResidentCopy {
  blocks: TextBlob[];
  /** Decoded bytes of every block: what a Worker holds once loaded. */
  bytes: number;
}

type Entry = { json: Pick<ItemRecord, "id" | "text" | "meta">; bytes: number };

/** False when n items cannot fit `maxBytes` whatever their texts: the build then need not read their vectors. */
export function residentMayFit(n: number, dim: number, maxBytes = RESIDENT_MAX_BYTES): boolean {
  return n > 0 && n * (dim + ENTRY_FIXED_BYTES) <= maxBytes;
}

/** The blocks, or null when the records would not fit `maxBytes` (checked on sizes before anything is packed). */
export function residentCopy(
  vectors: Float32Array,
  dim: number,
  items: readonly CorpusItem[],
  keyBytes: Uint8Array,
  recordBytes: readonly number[],
  maxBytes = RESIDENT_MAX_BYTES,
): ResidentCopy | null {
  const n = items.length;
  if (!residentMayFit(n, dim, maxBytes)) return null;
  const entries: Entry[] = items.map((it) => {
    const json = { id: it.id, text: it.text, meta: it.meta };
    return { json, bytes: ENTRY_FIXED_BYTES + dim + Buffer.byteLength(JSON.stringify(json)) };
  });
  if (entries.reduce((s, e) => s + e.bytes, 0) > maxBytes) return null;
  const blocks = cutBlocks(entries, keyBytes).map(([start, end]) => packBlock(vectors, dim, entries, keyBytes, recordBytes, start, end));
  // The estimate above leaves out headers and padding: the budget holds for what is packed.
  const bytes = blocks.reduce((s, b) => s + b.length, 0);
  return bytes > maxBytes ? null : { blocks: blocks.map((b) => textBlob(blobToText(b))), bytes };
}

/** [start, end) item ranges in corpus order, cut where a key's hash says so. */
function cutBlocks(entries: Entry[], keyBytes: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  let bytes = 0;
  entries.forEach((e, i) => {
    if (i > start && bytes + e.bytes > BLOCK_MAX_BYTES) {
      out.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += e.bytes;
    if (i + 1 - start >= BLOCK_MIN_ITEMS && keyHash(keyBytes, i) % BLOCK_TARGET_ITEMS === 0) {
      out.push([start, i + 1]);
      start = i + 1;
      bytes = 0;
    }
  });
  if (start < entries.length) out.push([start, entries.length]);
  return out;
}

function packBlock(vectors: Float32Array, dim: number, entries: Entry[], keyBytes: Uint8Array, recordBytes: readonly number[], start: number, end: number): Uint8Array {
  const count = end - start;
  const codes = new Int8Array(count * dim);
  const scales = new Float32Array(count);
  for (let j = 0; j < count; j++) {
    const i = start + j;
    // The same quantizer, on the same vector, as the item record's "v" and "s".
    scales[j] = quantizeInt8(vectors.subarray(i * dim, (i + 1) * dim), codes.subarray(j * dim, (j + 1) * dim)).scale;
  }
  return encodeResidentBlock({
    dim,
    keys: keyBytes.subarray(start * ITEM_KEY_BYTES, end * ITEM_KEY_BYTES),
    recordBytes: recordBytes.slice(start, end),
    scales,
    vectors: codes,
    records: entries.slice(start, end).map((e) => e.json),
  });
}
