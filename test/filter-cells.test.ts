// Cells (scripts/builder/training/cells.ts): each group's leaves split into
// neighbourhoods by their coded centroids; and the order in which a filtered
// query reads them (lib/index/cells.ts).
import { describe, expect, it } from "vitest";
import { buildCells, CELL_LEAVES, type CellRouting } from "../scripts/builder/training/cells.ts";
import { toScaledRows } from "../lib/index/quantize.ts";
import { cellOrder, leafCellOf, leafGroup } from "../lib/index/cells.ts";
import { chunkStoredLength, PQ_CENTROIDS, SHARD_HASH_BYTES, type FilterTable, type Routing } from "../lib/index/format.ts";
import { cellsCoverage, nearestValueChunks, readCoverage, recordsWithin, RECORD_SLACK } from "../lib/index/filtered-search.ts";
import type { IndexHandle } from "../lib/index/handle.ts";
import { rng } from "../scripts/builder/training/kernels.ts";

const DIM = 8;

/** One byte per dimension (leafPqM = dim): code c stands for (c − 128) / 128. */
function codebooks(): Float32Array {
  const out = new Float32Array(PQ_CENTROIDS * DIM);
  for (let m = 0; m < DIM; m++) for (let c = 0; c < PQ_CENTROIDS; c++) out[m * PQ_CENTROIDS + c] = (c - 128) / 128;
  return out;
}

/** Leaves near one of two directions: the first four dimensions, or the last four. */
function leafCode(side: 0 | 1, r: () => number): number[] {
  return Array.from({ length: DIM }, (_, d) => ((d < 4) === (side === 0) ? 240 : 128) + Math.floor(r() * 12));
}

/** Group 0: 28 leaves on side A then 28 on side B, interleaved; group 1: 10 leaves; group 2: 300 leaves. */
function sampleRouting(): CellRouting & { sides: number[] } {
  const r = rng(3);
  const sides: number[] = [];
  const codes: number[] = [];
  for (let i = 0; i < 56; i++) {
    const side = (i % 2) as 0 | 1;
    sides.push(side);
    codes.push(...leafCode(side, r));
  }
  for (let i = 0; i < 310; i++) codes.push(...leafCode((i % 2) as 0 | 1, r));
  return { dim: DIM, groups: 3, groupStart: [0, 56, 66, 366], leafPqM: DIM, leafCodes: Uint8Array.from(codes), leafCodebooks: codebooks(), sides };
}

describe("cells", () => {
  it("split each group into about leaves / CELL_LEAVES cells, the same every time, neighbours together", () => {
    const routing = sampleRouting();
    const a = buildCells(routing);
    const b = buildCells(routing);
    expect(Array.from(a.leafCell)).toEqual(Array.from(b.leafCell));
    expect(Array.from(a.groupCells)).toEqual([0, 2, 3, 3 + Math.round(300 / CELL_LEAVES)]);
    expect(a.cells).toBe(a.groupCells[3]);
    // Group 0's two sides are two cells, each side whole.
    const cellOfSide = [new Set<number>(), new Set<number>()];
    routing.sides.forEach((side, leaf) => cellOfSide[side].add(a.leafCell[leaf]));
    expect(cellOfSide.map((s) => s.size)).toEqual([1, 1]);
    expect([...cellOfSide[0]][0]).not.toBe([...cellOfSide[1]][0]);
    // A group smaller than a cell is one cell; a large one numbers its cells from 0 with none empty.
    expect(Array.from(a.leafCell.subarray(56, 66)).every((c) => c === 0)).toBe(true);
    expect(new Set(a.leafCell.subarray(66)).size).toBe(a.groupCells[3] - a.groupCells[2]);
  });

  it("a query reads the cells nearest first: its own side's cell before the other, every cell once", () => {
    const c = sampleRouting();
    const cells = buildCells(c);
    const routing = { ...c, leafCodebooks: toScaledRows(c.leafCodebooks, c.leafPqM), groupStart: Uint32Array.from(c.groupStart), leaves: 366, groupScales: Float32Array.from([1, 1, 1]), groupCentroids: new Int8Array(3 * DIM) } as unknown as Routing;
    const table = { cells: cells.cells, leafCell: cells.leafCell, groupCells: cells.groupCells, leaves: 366, attrHashes: new Uint8Array(366 * SHARD_HASH_BYTES) } as unknown as FilterTable;
    expect([0, 55, 56, 65, 66, 365].map((l) => leafGroup(routing, l))).toEqual([0, 0, 1, 1, 2, 2]);
    for (const side of [0, 1]) {
      const q = Float32Array.from({ length: DIM }, (_, d) => ((d < 4) === (side === 0) ? 1 : 0));
      const order = cellOrder(routing, table, q);
      expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: cells.cells }, (_, i) => i));
      const own = leafCellOf(routing, table, c.sides.indexOf(side));
      const other = leafCellOf(routing, table, c.sides.indexOf(1 - side));
      expect(order.indexOf(own)).toBeLessThan(order.indexOf(other));
    }
  });
});

describe("value-order chunks nearest first (the values plan)", () => {
  // One column, six cells. Value A: chunk 0 holds cells 0–2, chunk 1 cells 2–4, chunk 2 the rest of A
  // and B's start (two values: any cell). Value B: chunk 3 holds cells 0–3, chunk 4 (the column's last) 3–5.
  const table = {
    columns: 1,
    cells: 6,
    chunks: 5,
    chunkStart: Uint32Array.from([0, 5]),
    chunkCount: Uint16Array.from([10, 10, 10, 10, 10]),
    chunkCell: Uint16Array.from([0, 2, 4, 0, 3]),
    chunkOneValue: Uint8Array.from([0b11011]),
  } as unknown as FilterTable;
  const reads = [0, 1, 2, 3, 4].map((chunk) => ({ chunk, column: 0 }));
  const bytes = chunkStoredLength(1, 10, 32);
  // The query's cells, nearest first: 5, 4, 3, 2, 1, 0. Nearest cells' ranks: chunk 0 → 3 (cell 2),
  // 1 → 1 (cell 4), 2 → 0 (any), 3 → 2 (cell 3), 4 → 0 (cell 5).
  const order = [5, 4, 3, 2, 1, 0];

  it("reads a chunk as early as the nearest cell it holds, and tells what share of each cell's chunks it read", () => {
    const picked = nearestValueChunks(table, reads, order, 3 * bytes, 32);
    expect(picked.reads).toEqual([2, 4, 1].map((chunk) => ({ chunk, column: 0 })));
    // Chunks holding cells 5, 4, 3, 2, 1, 0: {2, 4}, {1, 2, 4}, {1, 2, 3, 4}, {0, 1, 2, 3}, {0, 2, 3}, {0, 2, 3}.
    expect(Array.from(picked.held)).toEqual([1, 1, 3 / 4, 2 / 4, 1 / 3, 1 / 3]);
    expect(nearestValueChunks(table, reads, order, 3 * bytes - 1, 32).reads).toEqual([2, 4].map((chunk) => ({ chunk, column: 0 })));
    const all = nearestValueChunks(table, reads, order, 5 * bytes, 32);
    expect(all.reads).toEqual([2, 4, 1, 3, 0].map((chunk) => ({ chunk, column: 0 })));
    expect(Array.from(all.held)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it("a query nearest the other end reads the other chunks first", () => {
    // Nearest cells' ranks: chunk 0 → 0, 1 → 2, 2 → 0, 3 → 0, 4 → 3: ties in table order.
    expect(nearestValueChunks(table, reads, [0, 1, 2, 3, 4, 5], 3 * bytes, 32).reads).toEqual([0, 2, 3].map((chunk) => ({ chunk, column: 0 })));
  });

  it("predicts from the gauged curve what each cell read adds: whole cells in order as cellsCoverage does, a part of a cell for its part", () => {
    const curve: Array<[number, number]> = [
      [0.25, 0.6],
      [0.5, 0.9],
      [1, 1],
    ];
    const held = (xs: number[]) => Float64Array.from(xs);
    // Four cells; a filter passing 10% of the items (k 10) is gauged 100 deep: the scale is 1.
    expect(readCoverage(curve, held([1, 1, 0, 0]), 0.1, 10)).toBeCloseTo(cellsCoverage(curve, 0.5, 0.1, 10), 12);
    expect(readCoverage(curve, held([1, 1, 0, 0]), 0.1, 10)).toBeCloseTo(0.9, 12);
    expect(readCoverage(curve, held([1, 0.5, 0, 1]), 0.1, 10)).toBeCloseTo(0.6 + 0.15 + 0.05, 12);
    // A filter passing 2.5% reaches 400 deep: a quarter of the scale, so cell 1 of 4 adds the curve's first 1/16.
    expect(readCoverage(curve, held([1, 0, 0, 0]), 0.025, 10)).toBeCloseTo(cellsCoverage(curve, 0.25, 0.025, 10), 12);
    expect(readCoverage(curve, held([1, 0, 0, 0]), 0.025, 10)).toBeCloseTo(0.15, 12);
  });
});

describe("records after a filtered round 1", () => {
  it("fit what round 1 left of the query's bytes, at the build's mean record and the slack", () => {
    const h = { manifest: { items: 1000, totals: { itemBytes: 800_000 } } } as unknown as IndexHandle;
    const per = 800 * RECORD_SLACK;
    expect(recordsWithin(h, 100 * per)).toBe(100);
    expect(recordsWithin(h, 100 * per - 1)).toBe(99);
    expect(recordsWithin(h, -5)).toBe(0);
    expect(recordsWithin({ manifest: { items: 0 } } as unknown as IndexHandle, 1000)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
