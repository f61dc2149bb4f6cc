// Evaluating a compiled filter: per item (exact) and per leaf or chunk summary
// (conservative, to skip what cannot match).
import type { CompiledFilter, FieldPredicate } from "./compile.ts";

/** Whether v lies in one of the sorted closed intervals (binary search: $in lists can be long). */
export function inRanges(ranges: Float64Array, v: number): boolean {
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (v < ranges[2 * mid]) hi = mid - 1;
    else if (v > ranges[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Whether some interval meets [lo, hi]. */
export function overlapsRanges(ranges: Float64Array, lo: number, hi: number): boolean {
  // The first interval ending at or after lo is the only candidate.
  let a = 0;
  let b = ranges.length / 2;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (ranges[2 * mid + 1] < lo) a = mid + 1;
    else b = mid;
  }
  return a < ranges.length / 2 && ranges[2 * a] <= hi;
}

export function predicateMatches(p: FieldPredicate, v: number): boolean {
  return Number.isNaN(v) ? p.missing : inRanges(p.ranges, v);
}

/** Does an item match? value(f) = the item's encoded value for schema field f (NaN if missing). */
export function matches(filter: CompiledFilter, value: (field: number) => number): boolean {
  return filter.anyOf.some((conjunct) => conjunct.every((p) => predicateMatches(p, value(p.field))));
}

/**
 * Could an item whose present values lie in [min[f], max[f]] match this predicate?
 * min > max means every item lacks the field. The summary does not say whether
 * some items lack it, so a predicate that accepts missing values may always match;
 * a NaN bound (no summary) may too.
 */
function predicateMayMatch(p: FieldPredicate, min: number, max: number): boolean {
  if (p.missing || Number.isNaN(min) || Number.isNaN(max)) return true;
  if (min > max) return false;
  return overlapsRanges(p.ranges, min, max);
}

/** Could any item with values in [min[f], max[f]] per field match? Never false when one could. */
export function mayMatch(filter: CompiledFilter, min: ArrayLike<number>, max: ArrayLike<number>): boolean {
  return filter.anyOf.some((conjunct) => conjunct.every((p) => predicateMayMatch(p, min[p.field], max[p.field])));
}
