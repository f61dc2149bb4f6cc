// The order in which a filtered query reads cells (format.ts §5: each group's
// leaves split into neighbourhoods), nearest first. A cell is as near as its
// leaves: the query scores the leaves of its best groups, as an unfiltered
// query does, and a cell weighs each of its scored leaves by how close it comes
// to the best one, so a cell holding several near leaves comes before one
// holding a single leaf as near (docs/decisions.md#cell-order-chunks).
import type { FilterTable, Routing } from "./format.ts";
import { groupOrder, rankedLeaves } from "./leaves.ts";

/** Leaves scored per filtered query, group by group: the cells read lie well inside them. */
export const CELL_SCAN_LEAVES = 16384;
/** The best-scoring of those that weigh their cells. */
export const CELL_RANK_LEAVES = 4096;
/** Score gap (leaf centroid · query) over which a leaf's weight falls by e: small, so the nearest leaves decide. */
export const CELL_SCORE_SCALE = 0.015;

/**
 * Neighbours per query the build's cell coverage counts (manifest.filters
 * .cellCoverage): deeper than k, since a filter's nearest matches are,
 * unfiltered, farther neighbours (about k / s of them for a filter passing a
 * share s of the items).
 */
export const COVERAGE_DEPTH = 100;

/** The group a leaf is in: the groups' leaves are contiguous. */
export function leafGroup(routing: Routing, leaf: number): number {
  const s = routing.groupStart;
  let lo = 0;
  let hi = routing.groups - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (s[mid] <= leaf) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function leafCellOf(routing: Routing, table: FilterTable, leaf: number): number {
  return table.groupCells[leafGroup(routing, leaf)] + table.leafCell[leaf];
}

/** Every cell, nearest first: those with a scored leaf by weight, then the rest group by group in the query's group order. */
export function cellOrder(routing: Routing, table: FilterTable, q: Float32Array): number[] {
  const groups = groupOrder(routing, q);
  const { leaves, scores } = rankedLeaves(routing, q, CELL_RANK_LEAVES, CELL_SCAN_LEAVES, groups);
  const weight = new Float64Array(table.cells);
  leaves.forEach((leaf, i) => (weight[leafCellOf(routing, table, leaf)] += Math.exp((scores[i] - scores[0]) / CELL_SCORE_SCALE)));
  const order: number[] = [];
  for (let c = 0; c < table.cells; c++) if (weight[c] > 0) order.push(c);
  order.sort((a, b) => weight[b] - weight[a] || a - b);
  for (const g of groups) for (let c = table.groupCells[g]; c < table.groupCells[g + 1]; c++) if (weight[c] === 0) order.push(c);
  return order;
}
