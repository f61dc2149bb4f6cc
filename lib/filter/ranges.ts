// Sets of encoded values as sorted, disjoint, closed intervals [lo0,hi0,lo1,hi1,…].
// A Domain says what "the next value" is, so open bounds and complements stay
// exact: float64 steps for numbers, ±1 for integer-coded fields.
import { nextDown, nextUp } from "./float.ts";
import type { FilterField } from "./values.ts";

export interface Domain {
  /** Least and greatest encoded value of the field (the universe for $ne/$nin). */
  min: number;
  max: number;
  next(x: number): number;
  prev(x: number): number;
}

const step = { next: (x: number) => x + 1, prev: (x: number) => x - 1 };

/**
 * Numbers step by float64 neighbours. Dates are integer milliseconds and string
 * codes integer indices, so they step by 1; string ranges are clamped to the
 * dictionary's codes [0, n-1] so a consumer can iterate them.
 */
export function domainOf(field: FilterField): Domain {
  switch (field.type) {
    case "number":
      return { min: -Infinity, max: Infinity, next: nextUp, prev: nextDown };
    case "date":
      return { min: -Infinity, max: Infinity, ...step };
    case "string":
      return { min: 0, max: (field.values?.length ?? 0) - 1, ...step };
  }
}

/** Clamp to the domain, drop empty intervals, sort, and merge overlapping or adjacent ones. */
export function normalize(d: Domain, ranges: readonly number[]): number[] {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < ranges.length; i += 2) {
    const lo = Math.max(ranges[i], d.min);
    const hi = Math.min(ranges[i + 1], d.max);
    if (lo <= hi) pairs.push([lo, hi]);
  }
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= d.next(out[last])) out[last] = Math.max(out[last], hi);
    else out.push(lo, hi);
  }
  return out;
}

/** Intersection of two normalized sets. */
export function intersect(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i], b[j]);
    const hi = Math.min(a[i + 1], b[j + 1]);
    if (lo <= hi) out.push(lo, hi);
    if (a[i + 1] < b[j + 1]) i += 2;
    else j += 2;
  }
  return out;
}

/** The domain minus a normalized set. */
export function complement(d: Domain, ranges: readonly number[]): number[] {
  const out: number[] = [];
  let from = d.min;
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i] > from) out.push(from, d.prev(ranges[i]));
    if (ranges[i + 1] >= d.max) return out;
    from = d.next(ranges[i + 1]);
  }
  if (from <= d.max) out.push(from, d.max);
  return out;
}
