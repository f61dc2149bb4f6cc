// The values that make filters cheap (format.ts, sections 5–7): per leaf, its
// items' filterable values (read beside its shard) and their range; per column,
// the items sorted by value in content-defined chunks (read instead of shards
// when a filter is selective); and the table naming them all.
import {
  blobToText,
  compareItemKeys,
  encodeAttributes,
  encodeColumnChunk,
  encodeFilterTable,
  ITEM_KEY_BYTES,
  keyHalf,
  SHARD_HASH_BYTES,
  splitParts,
} from "../../../lib/index/format.ts";
import { textBlob, type TextBlob } from "./text-blob.ts";

/**
 * A chunk ends after an item whose key hash is 0 mod this (so ~this many items
 * a chunk) once it has CHUNK_MIN_ENTRIES, and always at CHUNK_MAX_ENTRIES. Small
 * enough that a selective filter reads few bytes beyond its matches, large
 * enough that the in-memory table (one row per chunk) stays small; adding an
 * item rewrites only its own chunk (docs/decisions.md#filter-table-and-chunk-size).
 */
export const CHUNK_TARGET_ENTRIES = 128;
export const CHUNK_MIN_ENTRIES = 32;
export const CHUNK_MAX_ENTRIES = 512;

export interface FilterValues {
  table: TextBlob[];
  /** attributes[leaf] */
  attributes: TextBlob[];
  chunks: TextBlob[];
}

interface Input {
  /** Rows of each leaf, in shard order. */
  members: number[][];
  keyBytes: Uint8Array;
  codes: Uint8Array;
  pqM: number;
  /** columns × n, column-major; NaN = no value. */
  values: Float64Array;
  columns: number;
  n: number;
}

export function buildFilterValues(x: Input): FilterValues {
  const attributes = x.members.map((rows, leaf) => attributesBlob(x, leaf, rows));
  const chunkRows: number[][] = [];
  const chunkColumn: number[] = [];
  const chunkStart = new Uint32Array(x.columns + 1);
  for (let c = 0; c < x.columns; c++) {
    for (const rows of cutChunks(sortedRows(x, c), x.keyBytes)) {
      chunkRows.push(rows);
      chunkColumn.push(c);
    }
    chunkStart[c + 1] = chunkRows.length;
  }
  const chunks = chunkRows.map((rows, i) => chunkBlob(x, chunkColumn[i], rows));
  const table = tableParts(x, attributes, chunks, chunkRows, chunkColumn, chunkStart);
  return { table, attributes, chunks };
}

function gather(x: Input, rows: number[]): Float64Array {
  const out = new Float64Array(x.columns * rows.length);
  for (let c = 0; c < x.columns; c++) rows.forEach((r, e) => (out[c * rows.length + e] = x.values[c * x.n + r]));
  return out;
}

function attributesBlob(x: Input, leaf: number, rows: number[]): TextBlob {
  return textBlob(blobToText(encodeAttributes({ leaf, columns: x.columns, count: rows.length, values: gather(x, rows) })));
}

/** Rows with a value in column c, by (value, item key): an order that does not depend on corpus order. */
function sortedRows(x: Input, c: number): number[] {
  const rows: number[] = [];
  for (let i = 0; i < x.n; i++) if (!Number.isNaN(x.values[c * x.n + i])) rows.push(i);
  return rows.sort((a, b) => x.values[c * x.n + a] - x.values[c * x.n + b] || compareItemKeys(x.keyBytes, a, x.keyBytes, b));
}

/** The last 4 key bytes as a number: keys are sha256 prefixes, so this is uniform; chunk and resident-block cuts use it. */
export function keyHash(keyBytes: Uint8Array, row: number): number {
  return keyHalf(keyBytes, row, 1);
}

function cutChunks(rows: number[], keyBytes: Uint8Array): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  for (const r of rows) {
    cur.push(r);
    const boundary = cur.length >= CHUNK_MIN_ENTRIES && keyHash(keyBytes, r) % CHUNK_TARGET_ENTRIES === 0;
    if (boundary || cur.length >= CHUNK_MAX_ENTRIES) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

function chunkBlob(x: Input, column: number, rows: number[]): TextBlob {
  const keys = new Uint8Array(rows.length * ITEM_KEY_BYTES);
  const codes = new Uint8Array(rows.length * x.pqM);
  rows.forEach((r, e) => {
    keys.set(x.keyBytes.subarray(r * ITEM_KEY_BYTES, (r + 1) * ITEM_KEY_BYTES), e * ITEM_KEY_BYTES);
    codes.set(x.codes.subarray(r * x.pqM, (r + 1) * x.pqM), e * x.pqM);
  });
  const bytes = encodeColumnChunk({ column, columns: x.columns, pqM: x.pqM, count: rows.length, keys, codes, values: gather(x, rows) });
  return textBlob(blobToText(bytes));
}

/** float32 bounds that contain a float64 range: a leaf is never skipped by rounding. */
function f32Down(v: number): number {
  const f = Math.fround(v);
  return f <= v ? f : nextF32(f, -1);
}

function f32Up(v: number): number {
  const f = Math.fround(v);
  return f >= v ? f : nextF32(f, 1);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function nextF32(f: number, dir: 1 | -1): number {
  if (f === 0) return dir * 1.4e-45;
  f32[0] = f;
  u32[0] += (f > 0) === (dir > 0) ? 1 : -1;
  return f32[0];
}

function hashBytes(blobs: TextBlob[]): Uint8Array {
  const out = new Uint8Array(blobs.length * SHARD_HASH_BYTES);
  blobs.forEach((b, i) => out.set(Buffer.from(b.ref.sha256.slice(0, SHARD_HASH_BYTES * 2), "hex"), i * SHARD_HASH_BYTES));
  return out;
}

function tableParts(x: Input, attributes: TextBlob[], chunks: TextBlob[], chunkRows: number[][], chunkColumn: number[], chunkStart: Uint32Array): TextBlob[] {
  const leaves = x.members.length;
  const leafMin = new Float32Array(leaves * x.columns).fill(Infinity);
  const leafMax = new Float32Array(leaves * x.columns).fill(-Infinity);
  x.members.forEach((rows, l) => {
    for (let c = 0; c < x.columns; c++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of rows) {
        const v = x.values[c * x.n + r];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (lo <= hi) {
        leafMin[l * x.columns + c] = f32Down(lo);
        leafMax[l * x.columns + c] = f32Up(hi);
      }
    }
  });
  const value = (i: number, e: number) => x.values[chunkColumn[i] * x.n + chunkRows[i][e]];
  const bytes = encodeFilterTable({
    columns: x.columns,
    leaves,
    chunks: chunks.length,
    leafMin,
    leafMax,
    attrBytes: Uint32Array.from(attributes, (a) => a.ref.bytes),
    attrHashes: hashBytes(attributes),
    chunkStart,
    chunkMin: Float64Array.from(chunkRows, (_, i) => value(i, 0)),
    chunkMax: Float64Array.from(chunkRows, (rows, i) => value(i, rows.length - 1)),
    chunkCount: Uint32Array.from(chunkRows, (rows) => rows.length),
    chunkBytes: Uint32Array.from(chunks, (c) => c.ref.bytes),
    chunkHashes: hashBytes(chunks),
  });
  return splitParts(bytes).map(textBlob);
}
