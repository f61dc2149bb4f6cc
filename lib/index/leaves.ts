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

/** Every group, best-scoring (int8 centroid) first. */
export function groupOrder(routing: Routing, q: Float32Array): number[] {
  const { groups, dim, groupCentroids, groupScales } = routing;
  const scores = new Float32Array(groups);
  for (let g = 0; g < groups; g++) scores[g] = dotInt8(q, groupCentroids, g * dim, dim) * groupScales[g];
  return Array.from({ length: groups }, (_, g) => g).sort((a, b) => scores[b] - scores[a] || a - b);
}

/** Groups best first (`order`, the query's groupOrder), taken until their leaves number at least `scanLeaves`. */
function candidateLeaves(routing: Routing, order: number[], scanLeaves: number): Uint32Array {
  const { groupStart } = routing;
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

/** The `want` best-scoring of the leaves the query's best groups hold (at least `scan` of them), best first, with their scores; `order` is the query's groupOrder, when the caller has it. */
export function rankedLeaves(routing: Routing, q: Float32Array, want: number, scan: number, order = groupOrder(routing, q)): { leaves: number[]; scores: number[] } {
  const { leafPqM, leafCodes } = routing;
  const table = pqTable(q, routing.leafCodebooks, leafPqM);
  const candidates = candidateLeaves(routing, order, scan);
  const n = candidates.length;
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) scores[i] = pqScore(table, leafCodes, candidates[i] * leafPqM, leafPqM);
  // Threshold from a sorted copy, then sort only the few above it: a bounded
  // insertion list costs O(leaves · want).
  const take = Math.min(want, n);
  const threshold = scores.slice().sort()[n - take];
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i] >= threshold) picked.push(i);
  picked.sort((a, b) => scores[b] - scores[a] || candidates[a] - candidates[b]);
  const best = picked.slice(0, take);
  return { leaves: best.map((i) => candidates[i]), scores: best.map((i) => scores[i]) };
}

/**
 * The nprobe leaves whose centroids score highest against q, best first, among
 * the leaves of the query's best groups (scored through the leaf quantizer's table).
 */
export function nearestLeaves(routing: Routing, q: Float32Array, nprobe: number, scanLeaves: number): number[] {
  return rankedLeaves(routing, q, nprobe, Math.max(scanLeaves, nprobe)).leaves;
}

/** How far past nprobe a query whose leaves score alike may probe: PROBE_SPREAD × nprobe leaves at most. */
export const PROBE_SPREAD = 4;

/**
 * How many of the leaves, whose centroid scores are `scores` best first, a query
 * probes: nprobe, and past them every leaf within `margin` of the best, up to
 * all of them. Without a margin, or with 0, exactly nprobe (a leaf tied with the
 * best is no reason to read more).
 */
export function probeDepth(scores: ArrayLike<number>, nprobe: number, margin: number | undefined): number {
  const count = scores.length;
  if (!margin || count <= nprobe) return Math.min(nprobe, count);
  const floor = scores[0] - margin;
  let depth = nprobe;
  while (depth < count && scores[depth] >= floor) depth++;
  return depth;
}

/**
 * The leaves a query probes, best first. A query whose nearest leaves stand out
 * (a near copy of an item) needs few; one whose leaves score alike (a question in
 * a dense corpus) finds its neighbours spread over many. So with a margin the
 * count follows the scores: nprobe, plus every further leaf within `margin` of
 * the best, at most PROBE_SPREAD × nprobe. Most queries then probe nprobe
 * leaves and pay nothing extra, while the crowded ones probe further: more
 * recall than a fixed nprobe for fewer bytes than a larger fixed one. On a
 * corpus whose leaves stand apart the margin adds no leaf, so the answers are
 * those of the fixed count (docs/decisions.md#probe-margin).
 *
 * A filter that passes a fraction s of the items finds about as many matches as
 * the unfiltered query finds items by probing 1/s times as far: `widen` = 1/s
 * multiplies that count.
 */
export function probedLeaves(routing: Routing, q: Float32Array, nprobe: number, margin: number | undefined, scanLeaves: number, widen = 1): number[] {
  const spread = margin ? PROBE_SPREAD : 1;
  const want = Math.min(routing.leaves, Math.ceil(nprobe * spread * widen));
  // The extra leaves come from the groups the probes without a margin would scan.
  const { leaves, scores } = rankedLeaves(routing, q, want, Math.max(scanLeaves, Math.ceil(nprobe * widen)));
  const depth = probeDepth(scores.slice(0, nprobe * spread), nprobe, margin);
  return leaves.slice(0, Math.ceil(depth * widen));
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
