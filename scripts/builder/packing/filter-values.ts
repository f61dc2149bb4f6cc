// The values that make filters cheap (format.ts, sections 5–7): per leaf, its
// items' filterable values (read beside its shard) and their range; per column,
// the items in content-defined chunks in two orders — by value, then cell (read
// instead of shards when a filter is selective; those of the query's nearest
// cells when there are somewhat too many) and by cell, then value (the nearest
// cells' matches, when a filter's value-order chunks are far too many); and the
// table naming them all.
import {
  attributesStoredBytes,
  blobToText,
  compareItemKeys,
  encodeAttributes,
  encodeColumnChunk,
  encodeFilterTable,
  ITEM_KEY_BYTES,
  MAX_CHUNK_ENTRIES,
  chunkStoredLength,
  keyHalf,
  SHARD_HASH_BYTES,
  splitParts,
} from "../../../lib/index/format.ts";
import { keepInMemory, textBlob, type KeepValue, type TextBlob } from "./text-blob.ts";
import type { Cells } from "../training/cells.ts";

/**
 * A value-order chunk ends after an item whose key hash is 0 mod `target` (so
 * ~that many items a chunk) once it has `min`, and always at `max`. Small
 * enough that a selective filter reads few bytes beyond its matches, large
 * enough that the in-memory table (one row per chunk) stays small; adding an
 * item rewrites only its own chunk (docs/decisions.md#filter-table-and-chunk-size).
 */
export const VALUE_CHUNK_SIZES = { target: 64, min: 16, max: 256 };

/**
 * The same for cell-order chunks, cut at every cell's end: small, so that a
 * cell's chunks span few values and a filter reads mostly matches, at the
 * cost of table rows (docs/decisions.md#cell-order-chunks).
 */
export const CELL_CHUNK_SIZES = { target: 24, min: 6, max: 96 };

export interface FilterValues {
  table: TextBlob[];
  /** attributes[leaf] */
  attributes: TextBlob[];
  chunks: TextBlob[];
}

interface Input {
  /** Rows of each leaf, in shard order. */
  members: number[][];
  groups: number;
  /** The routing's cells (cells.ts), and each row's cell (build-index.ts itemCells). */
  cells: Cells;
  cellOf: Uint32Array;
  keyBytes: Uint8Array;
  codes: Uint8Array;
  pqM: number;
  /** columns × n, column-major; NaN = no value. */
  values: Float64Array;
  columns: number;
  n: number;
  /** Factor on both chunk sizes (1 but for very large builds: build-index.ts scaleDefaults). */
  chunkScale?: number;
  /** What becomes of each attribute and chunk value as it is made (text-blob.ts); kept in memory when absent. */
  keep?: KeepValue;
}

function scaled(size: { target: number; min: number; max: number }, s = 1) {
  return { target: Math.round(size.target * s), min: Math.round(size.min * s), max: Math.round(size.max * s) };
}

/** Chunks in the table's order: value order by column, then cell order by column and cell. */
interface ChunkPlan {
  rows: number[][];
  column: number[];
  chunkStart: Uint32Array;
  cellChunkStart: Uint32Array;
  /** Value-order chunks: the cell of each one's first entry, and the one-value bits (format.ts §5). */
  chunkCell: Uint16Array;
  chunkOneValue: Uint8Array;
}

export function buildFilterValues(x: Input): FilterValues {
  const keep = x.keep ?? keepInMemory;
  const attributes = x.members.map((rows, leaf) => keep(attributesBlob(x, leaf, rows)));
  const plan = planChunks(x);
  const chunks = plan.rows.map((rows, i) => keep(chunkBlob(x, plan.column[i], rows)));
  const table = tableParts(x, attributes, chunks, plan);
  return { table, attributes, chunks };
}

function planChunks(x: Input): ChunkPlan {
  const cells = x.cells.cells;
  const rows: number[][] = [];
  const column: number[] = [];
  const chunkStart = new Uint32Array(x.columns + 1);
  const cellChunkStart = new Uint32Array(x.columns * cells + 1);
  const add = (chunk: number[], c: number) => {
    rows.push(chunk);
    column.push(c);
  };
  // Each column sorted once: its value order, and split by cell, its cell order.
  const sorted = Array.from({ length: x.columns }, (_, c) => sortedRows(x, c));
  for (let c = 0; c < x.columns; c++) {
    for (const chunk of cutChunks(sorted[c], x.keyBytes, scaled(VALUE_CHUNK_SIZES, x.chunkScale))) add(chunk, c);
    chunkStart[c + 1] = rows.length;
  }
  for (let c = 0; c < x.columns; c++) {
    const byCell: number[][] = Array.from({ length: cells }, () => []);
    for (const r of sorted[c]) byCell[x.cellOf[r]].push(r);
    for (let cell = 0; cell < cells; cell++) {
      cellChunkStart[c * cells + cell] = rows.length;
      for (const chunk of cutChunks(byCell[cell], x.keyBytes, scaled(CELL_CHUNK_SIZES, x.chunkScale))) add(chunk, c);
    }
  }
  cellChunkStart[x.columns * cells] = rows.length;
  return { rows, column, chunkStart, cellChunkStart, ...valueChunkCells(x, rows, chunkStart) };
}

/** Each value-order chunk's first cell, and whether it and the next chunk's first entry hold one value. */
function valueChunkCells(x: Input, rows: number[][], chunkStart: Uint32Array): Pick<ChunkPlan, "chunkCell" | "chunkOneValue"> {
  const count = chunkStart[x.columns];
  const chunkCell = new Uint16Array(count);
  const chunkOneValue = new Uint8Array(Math.ceil(count / 8));
  for (let c = 0; c < x.columns; c++) {
    const value = (r: number) => x.values[c * x.n + r];
    for (let v = chunkStart[c]; v < chunkStart[c + 1]; v++) {
      const chunk = rows[v];
      chunkCell[v] = x.cellOf[chunk[0]];
      const last = v + 1 < chunkStart[c + 1] ? rows[v + 1][0] : chunk[chunk.length - 1];
      if (value(chunk[0]) === value(last)) chunkOneValue[v >> 3] |= 1 << (v & 7);
    }
  }
  return { chunkCell, chunkOneValue };
}

function gather(x: Input, rows: number[]): Float64Array {
  const out = new Float64Array(x.columns * rows.length);
  for (let c = 0; c < x.columns; c++) rows.forEach((r, e) => (out[c * rows.length + e] = x.values[c * x.n + r]));
  return out;
}

function attributesBlob(x: Input, leaf: number, rows: number[]): TextBlob {
  return textBlob(blobToText(encodeAttributes({ leaf, columns: x.columns, count: rows.length, values: gather(x, rows) })));
}

/**
 * Rows with a value in column c, by (value, cell, item key): an order that does
 * not depend on corpus order, in which a value's chunks each hold a run of
 * cells, so that a query can read a value's chunks nearest first.
 */
function sortedRows(x: Input, c: number): number[] {
  const rows: number[] = [];
  for (let i = 0; i < x.n; i++) if (!Number.isNaN(x.values[c * x.n + i])) rows.push(i);
  return rows.sort((a, b) => x.values[c * x.n + a] - x.values[c * x.n + b] || x.cellOf[a] - x.cellOf[b] || compareItemKeys(x.keyBytes, a, x.keyBytes, b));
}

/** The last 4 key bytes as a number: keys are sha256 prefixes, so this is uniform; chunk and resident-block cuts use it. */
export function keyHash(keyBytes: Uint8Array, row: number): number {
  return keyHalf(keyBytes, row, 1);
}

function cutChunks(rows: number[], keyBytes: Uint8Array, size: { target: number; min: number; max: number }): number[][] {
  if (size.max > MAX_CHUNK_ENTRIES) throw new Error(`chunks of up to ${size.max} entries do not fit the table's counts`);
  const out: number[][] = [];
  let cur: number[] = [];
  for (const r of rows) {
    cur.push(r);
    const boundary = cur.length >= size.min && keyHash(keyBytes, r) % size.target === 0;
    if (boundary || cur.length >= size.max) {
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

function tableParts(x: Input, attributes: TextBlob[], chunks: TextBlob[], plan: ChunkPlan): TextBlob[] {
  const { rows: chunkRows, column: chunkColumn } = plan;
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
  attributes.forEach((a, l) => {
    // Readers size a leaf's attributes from its entry count alone.
    if (a.ref.bytes !== attributesStoredBytes(x.columns, x.members[l].length)) throw new Error(`leaf ${l}'s attributes are ${a.ref.bytes} bytes, not the layout's`);
  });
  chunks.forEach((c, i) => {
    // And a chunk from its entry count.
    if (c.ref.bytes !== chunkStoredLength(x.columns, chunkRows[i].length, x.pqM)) throw new Error(`chunk ${i} is ${c.ref.bytes} bytes, not the layout's`);
  });
  const bytes = encodeFilterTable({
    columns: x.columns,
    leaves,
    chunks: chunks.length,
    groups: x.groups,
    cells: x.cells.cells,
    leafMin,
    leafMax,
    attrHashes: hashBytes(attributes),
    leafCell: x.cells.leafCell,
    groupCells: x.cells.groupCells,
    chunkStart: plan.chunkStart,
    cellChunkStart: plan.cellChunkStart,
    chunkMin: Float32Array.from(chunkRows, (_, i) => f32Down(value(i, 0))),
    chunkMax: Float32Array.from(chunkRows, (rows, i) => f32Up(value(i, rows.length - 1))),
    chunkCount: Uint16Array.from(chunkRows, (rows) => rows.length),
    chunkCell: plan.chunkCell,
    chunkOneValue: plan.chunkOneValue,
    chunkHashes: hashBytes(chunks),
  });
  return splitParts(bytes).map(textBlob);
}
