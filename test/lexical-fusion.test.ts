// Hybrid search's fusion arithmetic (lib/lexical/fusion.ts) and BM25's (bm25.ts).
import { describe, expect, it } from "vitest";
import { fuseRrf, fuseScores, RRF_K } from "../lib/lexical/fusion.ts";
import { idf, termScore } from "../lib/lexical/bm25.ts";

/** Three candidates: the best cosine with no lexical match, the best BM25 with the worst cosine, one between. */
const POOL = [
  { semantic: 0.9, lexical: 0 },
  { semantic: 0.5, lexical: 8 },
  { semantic: 0.7, lexical: 4 },
];

describe("score fusion", () => {
  it("is w · min-max cosine + (1 − w) · BM25 over the pool's best", () => {
    const f = fuseScores(POOL, 0.6);
    expect(f[0]).toBeCloseTo(0.6 * 1 + 0.4 * 0, 12);
    expect(f[1]).toBeCloseTo(0.6 * 0 + 0.4 * 1, 12);
    expect(f[2]).toBeCloseTo(0.6 * 0.5 + 0.4 * 0.5, 12);
  });

  it("falls back to cosine alone when nothing matches lexically, and puts equal cosines at 1", () => {
    expect(fuseScores([{ semantic: 0.3, lexical: 0 }, { semantic: 0.1, lexical: 0 }], 0.7)).toEqual([0.7, 0]);
    expect(fuseScores([{ semantic: 0.4, lexical: 2 }, { semantic: 0.4, lexical: 1 }], 0.5)).toEqual([1, 0.75]);
  });
});

describe("RRF", () => {
  it("adds 1/(k + rank) of each list, the lexical one only for items with a query term", () => {
    const f = fuseRrf(POOL);
    expect(f[0]).toBeCloseTo(1 / (RRF_K + 1), 12);
    expect(f[1]).toBeCloseTo(1 / (RRF_K + 3) + 1 / (RRF_K + 1), 12);
    expect(f[2]).toBeCloseTo(1 / (RRF_K + 2) + 1 / (RRF_K + 2), 12);
  });

  it("gives tied scores the same rank", () => {
    const f = fuseRrf([{ semantic: 0.5, lexical: 1 }, { semantic: 0.5, lexical: 1 }]);
    expect(f[0]).toBe(f[1]);
    expect(f[0]).toBeCloseTo(2 / (RRF_K + 1), 12);
  });
});

describe("BM25", () => {
  it("computes idf and a term's share as the formula says", () => {
    expect(idf(100, 10)).toBeCloseTo(Math.log(1 + 90.5 / 10.5), 12);
    // tf 2 in an item of average length: idf · 2 · 2.2 / (2 + 1.2)
    expect(termScore({ k1: 1.2, b: 0.75 }, 1, 2, 10, 10)).toBeCloseTo((2 * 2.2) / 3.2, 12);
    // b = 0 ignores length; a longer item scores lower when b > 0.
    expect(termScore({ k1: 1.2, b: 0 }, 1, 1, 50, 10)).toBeCloseTo(1, 12);
    expect(termScore({ k1: 1.2, b: 0.75 }, 1, 1, 50, 10)).toBeLessThan(termScore({ k1: 1.2, b: 0.75 }, 1, 1, 5, 10));
    expect(termScore({ k1: 1.2, b: 0.75 }, 1, 0, 5, 10)).toBe(0);
  });
});
