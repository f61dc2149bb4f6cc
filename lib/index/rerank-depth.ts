// How many of round 1's candidates round 2 re-ranks. A PQ score is only an
// estimate of the float32 one, close but not exact, so a candidate far below the
// k-th best PQ score is seldom a true top-k item; but a query whose candidates
// crowd together (a broad topic in a dense corpus) needs many more records than
// one whose neighbours stand out. So the depth follows the scores: every
// candidate within `margin` of the k-th best, between 2k and `rerank` of them.
// For the recall of a fixed depth, most queries then read fewer records and
// only the crowded ones go deep (docs/decisions.md#rerank-and-its-margin).

import type { TopK } from "./vector.ts";

/** The fewest candidates re-ranked, per result asked for. */
export const MIN_DEPTH_PER_RESULT = 2;

/**
 * How many of `count` candidates, whose PQ scores are `scores[0..count)` best
 * first, to re-rank for k results. Without a margin, all of them.
 */
export function rerankDepth(scores: ArrayLike<number>, count: number, k: number, margin: number | undefined): number {
  if (margin === undefined || count <= k) return count;
  const floor = scores[k - 1] - margin;
  let within = k;
  while (within < count && scores[within] >= floor) within++;
  return Math.min(count, Math.max(MIN_DEPTH_PER_RESULT * k, within));
}

/** How many candidates round 2 re-ranks, at most, and the margin that adapts the depth. */
export interface Depth {
  k: number;
  rerank: number;
  margin: number | undefined;
}

/** The best entries of a ranking (a TopK of `rerank`), cut to the depth their scores call for. */
export function deepest(top: TopK, d: Depth): Array<{ id: number; score: number }> {
  return top.entries().slice(0, rerankDepth(top.scores, top.size, d.k, d.margin));
}
