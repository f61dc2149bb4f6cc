// How many of round 1's candidates round 2 re-ranks. A PQ score errs by ~0.05
// (RMS against float32, 32-byte codes over 512 dims, the 50k headlines), so a
// candidate far below the k-th best PQ score is seldom a true top-k item; but a
// query whose candidates crowd together (a broad topic in a dense corpus) needs
// many more records than one whose neighbours stand out. So the depth follows
// the scores: every candidate within `margin` of the k-th best, between 2k and
// `rerank` of them.
//
// Measured with margin 0.06 (the bench's queries, recall@10 against exact search):
//   50k headlines, at most 100:  0.9715 at 227 KB a query (82 records at p50),
//                                where a fixed 100 gives the same at 246 KB;
//   1.2M (synthetic), nprobe 64, at most 300: 0.971 at 310 KB (45 records at
//                                p50, 300 at p95; questions 0.957), where a fixed
//                                300 needs 470 KB and a fixed 100 gives 0.957
//                                (questions 0.886).

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
