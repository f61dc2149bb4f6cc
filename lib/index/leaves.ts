// Which leaves a query reads: in memory, the query picks its best groups (int8
// centroids), scores their leaves (PQ-coded centroids) and keeps the best; a byte
// budget then bounds what it may read of them.
import type { Routing } from "./format.ts";
import { pqScore, pqTable } from "./quantize.ts";
import { dotInt8 } from "./vector.ts";

/**
 * Round-1 candidates are numbered source · ENTRY_SPAN + entry (source: a shard or
 * chunk of the round, entry: its position there), so one TopK ranks them all.
 */
export const ENTRY_SPAN = 2 ** 20;

/** Groups best first, taken until their leaves number at least `scanLeaves`. */
function candidateLeaves(routing: Routing, q: Float32Array, scanLeaves: number): Uint32Array {
  const { groups, dim, groupCentroids, groupScales, groupStart } = routing;
  const scores = new Float32Array(groups);
  for (let g = 0; g < groups; g++) scores[g] = dotInt8(q, groupCentroids, g * dim, dim) * groupScales[g];
  const order = Array.from({ length: groups }, (_, g) => g).sort((a, b) => scores[b] - scores[a] || a - b);
  const picked: number[] = [];
  let count = 0;
  for (const g of order) {
    if (count >= scanLeaves) break;
    picked.push(g);
    count += groupStart[g + 1] - groupStart[g];
  }
  const out = new Uint32Array(count);
  let o = 0;
  for (const g of picked) for (let l = groupStart[g]; l < groupStart[g + 1]; l++) out[o++] = l;
  return out;
}

/**
 * The nprobe leaves whose centroids score highest against q, best first, among
 * the leaves of the query's best groups (scored through the leaf quantizer's table).
 */
export function nearestLeaves(routing: Routing, q: Float32Array, nprobe: number, scanLeaves: number): number[] {
  const { leafPqM, leafCodes } = routing;
  const table = pqTable(q, routing.leafCodebooks, leafPqM);
  const candidates = candidateLeaves(routing, q, Math.max(scanLeaves, nprobe));
  const n = candidates.length;
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = pqScore(table, leafCodes, candidates[i] * leafPqM, leafPqM);
  // Threshold from a sorted copy, then sort only the few above it: a bounded
  // insertion list costs O(leaves · nprobe).
  const want = Math.min(nprobe, n);
  const threshold = scores.slice().sort()[n - want];
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i] >= threshold) picked.push(i);
  picked.sort((a, b) => scores[b] - scores[a] || candidates[a] - candidates[b]);
  return picked.slice(0, want).map((i) => candidates[i]);
}

/**
 * The leaves, in order, cut where what they cost would exceed the byte budget:
 * a query near a dense region would otherwise read several oversized leaves, and
 * the per-query cost must stay bounded whatever the query. The first leaf is
 * always read.
 */
export function withinBudget(leaves: number[], cost: (leaf: number) => number, budget: number | undefined): number[] {
  if (!budget) return leaves;
  let used = 0;
  for (let i = 0; i < leaves.length; i++) {
    used += cost(leaves[i]);
    if (used > budget && i > 0) return leaves.slice(0, i);
  }
  return leaves;
}
