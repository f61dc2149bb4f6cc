// How many leaves an unfiltered query probes (lib/index/leaves.ts), on centroid
// scores made up to put the margin's edge where each case needs it.
import { describe, expect, it } from "vitest";
import { probeDepth, PROBE_SPREAD } from "../lib/index/leaves.ts";

/** `count` scores falling by `step` from 1, best first (steps of 1/64 keep them exact in binary). */
function falling(count: number, step: number): number[] {
  return Array.from({ length: count }, (_, i) => 1 - i * step);
}
const STEP = 1 / 64;

describe("probeDepth", () => {
  it("probes past nprobe every leaf within the margin of the best", () => {
    // Best 1; a margin of 20/64 admits down to 1 − 20/64: 21 leaves.
    expect(probeDepth(falling(64, STEP), 8, 20 * STEP)).toBe(21);
  });

  it("probes nprobe leaves when the rest fall below the margin", () => {
    expect(probeDepth(falling(64, 0.5), 8, 0.1)).toBe(8);
    expect(probeDepth(falling(64, STEP), 8, 0)).toBe(8);
    // A margin of 0 is exactly nprobe, ties with the best included (the self-check's fixed probes).
    expect(probeDepth(Array.from({ length: 64 }, () => 1), 8, 0)).toBe(8);
  });

  it("probes at most the leaves it was given (PROBE_SPREAD × nprobe in the reader)", () => {
    expect(PROBE_SPREAD).toBe(4);
    expect(probeDepth(falling(32, 0.0001), 8, 0.1)).toBe(32);
    expect(probeDepth(falling(5, STEP), 8, 0.1)).toBe(5);
  });

  it("probes exactly nprobe without a margin (manifests built before the margin existed)", () => {
    expect(probeDepth(falling(64, 0.0001), 8, undefined)).toBe(8);
  });
});
