// Cells: each routing group's leaves split into neighbourhoods of about
// CELL_LEAVES leaves, by k-means of the leaf centroids the routing stores. A
// filter too broad to scan reads the cell-order chunks (format.ts §5) of the
// query's nearest cells: finer than a group, a cell holds a query's neighbours
// in fewer entries, while a chunk still spans enough values that the table,
// one row per chunk, fits in isolate memory (docs/decisions.md#cell-order-chunks).
// Cells depend only on the routing, so a build that extends a base version,
// which keeps its routing, gets the same cells.
import { MAX_GROUP_CELLS } from "../../../lib/index/format.ts";
import { pqDecodeRows } from "./kernels.ts";

/** Leaves per cell, about: the cell size at which the coarsest filter that cannot scan still reads most of its near matches. */
export const CELL_LEAVES = 28;
const KMEANS_ITERATIONS = 8;

export interface Cells {
  cells: number;
  /** Each leaf's cell within its group. */
  leafCell: Uint8Array;
  /** groups + 1: each group's first cell. */
  groupCells: Uint32Array;
}

export interface CellRouting {
  dim: number;
  groups: number;
  groupStart: ArrayLike<number>;
  leafPqM: number;
  leafCodes: Uint8Array;
  leafCodebooks: Float32Array;
}

/** The cells of a routing; deterministic (no random start), so the same routing always gives the same cells. */
export function buildCells(r: CellRouting): Cells {
  const leaves = r.groupStart[r.groups];
  const leafCell = new Uint8Array(leaves);
  const groupCells = new Uint32Array(r.groups + 1);
  for (let g = 0; g < r.groups; g++) {
    const first = r.groupStart[g];
    const count = r.groupStart[g + 1] - first;
    const k = Math.max(1, Math.min(MAX_GROUP_CELLS, Math.round(count / CELL_LEAVES)));
    const made = k === 1 ? 1 : clusterLeaves(r, first, count, k, leafCell);
    groupCells[g + 1] = groupCells[g] + made;
  }
  return { cells: groupCells[r.groups], leafCell, groupCells };
}

/**
 * Spherical k-means of a group's leaf centroids into k cells, started from
 * evenly spaced leaves; writes each leaf's cell (empty cells dropped and the
 * rest renumbered in order) and returns how many cells there are.
 */
function clusterLeaves(r: CellRouting, first: number, count: number, k: number, leafCell: Uint8Array): number {
  const dim = r.dim;
  const points = pqDecodeRows(r.leafCodes.subarray(first * r.leafPqM, (first + count) * r.leafPqM), r.leafCodebooks, r.leafPqM, dim);
  let centres = new Float32Array(k * dim);
  for (let j = 0; j < k; j++) centres.set(points.subarray(Math.floor((j * count) / k) * dim, (Math.floor((j * count) / k) + 1) * dim), j * dim);
  const assign = new Int32Array(count);
  for (let it = 0; it < KMEANS_ITERATIONS; it++) {
    normalizeRows(centres, dim);
    for (let i = 0; i < count; i++) assign[i] = nearestCentre(points, i, centres, k, dim);
    centres = new Float32Array(k * dim);
    for (let i = 0; i < count; i++) for (let d = 0; d < dim; d++) centres[assign[i] * dim + d] += points[i * dim + d];
  }
  const renumber = new Int32Array(k).fill(-1);
  let made = 0;
  for (let i = 0; i < count; i++) {
    if (renumber[assign[i]] < 0) renumber[assign[i]] = made++;
    leafCell[first + i] = renumber[assign[i]];
  }
  return made;
}

function normalizeRows(rows: Float32Array, dim: number): void {
  for (let o = 0; o < rows.length; o += dim) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += rows[o + d] * rows[o + d];
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let d = 0; d < dim; d++) rows[o + d] *= inv;
  }
}

function nearestCentre(points: Float32Array, i: number, centres: Float32Array, k: number, dim: number): number {
  let best = -Infinity;
  let at = 0;
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += points[i * dim + d] * centres[j * dim + d];
    if (s > best) {
      best = s;
      at = j;
    }
  }
  return at;
}
