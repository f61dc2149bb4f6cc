// How hybrid search merges its two rankings over one candidate pool (the
// union of the vector and lexical candidates, each with an exact cosine and an
// exact BM25 from round 2).

export type Fusion = "score" | "rrf";
export const FUSIONS: readonly Fusion[] = ["score", "rrf"];

/** RRF's k: the usual 60, which damps the head of each list. */
export const RRF_K = 60;

export interface Scored {
  semantic: number;
  lexical: number;
}

/**
 * Score fusion: w · cosine min-max normalised over the pool + (1 − w) · BM25
 * divided by the pool's best (BM25 is 0 for an item without a query term, so
 * its floor is fixed). A pool whose cosines are all equal puts them at 1; one
 * without any lexical match fuses on cosine alone.
 */
export function fuseScores(pool: readonly Scored[], semanticWeight: number): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  let top = 0;
  for (const c of pool) {
    lo = Math.min(lo, c.semantic);
    hi = Math.max(hi, c.semantic);
    top = Math.max(top, c.lexical);
  }
  return pool.map((c) => {
    const s = hi > lo ? (c.semantic - lo) / (hi - lo) : 1;
    const l = top > 0 ? c.lexical / top : 0;
    return semanticWeight * s + (1 - semanticWeight) * l;
  });
}

/** 1-based ranks by a score, best first; ties share the better rank. */
function ranks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const out = new Array<number>(values.length);
  order.forEach((i, r) => (out[i] = r > 0 && values[order[r - 1]] === values[i] ? out[order[r - 1]] : r + 1));
  return out;
}

/** Reciprocal-rank fusion: 1/(k + rank by cosine) + 1/(k + rank by BM25), the latter only for items that have a query term. */
export function fuseRrf(pool: readonly Scored[], k = RRF_K): number[] {
  const rs = ranks(pool.map((c) => c.semantic));
  const rl = ranks(pool.map((c) => c.lexical));
  return pool.map((c, i) => 1 / (k + rs[i]) + (c.lexical > 0 ? 1 / (k + rl[i]) : 0));
}
