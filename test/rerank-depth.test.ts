// How deep round 2 re-ranks (lib/index/rerank-depth.ts), on scores made up to
// put the margin's edge where each case needs it.
import { describe, expect, it } from "vitest";
import { deepest, MIN_DEPTH_PER_RESULT, rerankDepth } from "../lib/index/rerank-depth.ts";
import { TopK } from "../lib/index/vector.ts";

/** `count` scores falling by `step` from 1, best first (steps of 1/64 keep them exact in binary). */
function falling(count: number, step: number): number[] {
  return Array.from({ length: count }, (_, i) => 1 - i * step);
}
const STEP = 1 / 64;

describe("rerankDepth", () => {
  it("takes every candidate within the margin of the k-th best score", () => {
    // k = 2: the 2nd best is 1 − 1/64; a margin of 16/64 admits down to 1 − 17/64: 18 scores.
    expect(rerankDepth(falling(100, STEP), 100, 2, 16 * STEP)).toBe(18);
  });

  it("takes at least 2k candidates, however far below the k-th best they fall", () => {
    expect(MIN_DEPTH_PER_RESULT).toBe(2);
    expect(rerankDepth(falling(100, 0.5), 100, 10, 0.06)).toBe(20);
    expect(rerankDepth(falling(100, 0.5), 100, 10, 0)).toBe(20);
  });

  it("takes at most the candidates there are (the rerank cap)", () => {
    expect(rerankDepth(falling(100, 0.0001), 100, 10, 0.06)).toBe(100);
    expect(rerankDepth(falling(15, 0.5), 15, 10, 0.06)).toBe(15);
    expect(rerankDepth(falling(5, 0.5), 5, 10, 0.06)).toBe(5);
  });

  it("takes all of them without a margin (manifests built before the margin existed)", () => {
    expect(rerankDepth(falling(100, 0.5), 100, 10, undefined)).toBe(100);
  });

  it("cuts a TopK's entries, best first, to that depth", () => {
    const top = new TopK(50);
    falling(50, STEP).forEach((s, i) => top.push(1000 + i, s));
    // 10th best 1 − 9/64; a margin of 12/64 admits down to 1 − 21/64: 22 entries.
    const kept = deepest(top, { k: 10, rerank: 50, margin: 12 * STEP });
    expect(kept.map((e) => e.id)).toEqual(Array.from({ length: 22 }, (_, i) => 1000 + i));
    expect(deepest(top, { k: 10, rerank: 50, margin: undefined })).toHaveLength(50);
  });
});
