// Small statistics for the bench: percentiles, and median + spread over repeated runs.

/** Nearest-rank percentile of an ascending-sorted array (p in 0..1). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export interface Dist {
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function dist(values: readonly number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { mean: mean(s), p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99), max: s[s.length - 1] ?? NaN };
}

/** One figure taken in several runs: the median is reported, min/max show the spread. */
export interface Repeated {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function repeated(runs: readonly number[]): Repeated {
  const s = [...runs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], runs: [...runs] };
}

/** Median of repeated per-run distributions, field by field. */
export function repeatedDist(runs: readonly Dist[]): Record<keyof Dist, Repeated> {
  const keys: Array<keyof Dist> = ["mean", "p50", "p95", "p99", "max"];
  return Object.fromEntries(keys.map((k) => [k, repeated(runs.map((r) => r[k]))])) as Record<keyof Dist, Repeated>;
}

/** Recall@k of `got` against the true top-k ids. */
export function recallAt(got: readonly (string | number)[], truth: readonly (string | number)[], k: number): number {
  const t = new Set(truth.slice(0, k));
  let hits = 0;
  for (const g of got.slice(0, k)) if (t.has(g)) hits++;
  return hits / Math.min(k, truth.length);
}

/**
 * Bytes at which a recall-vs-bytes curve first reaches `target`, interpolating
 * log(bytes) linearly in recall between the bracketing points; null if never.
 */
export function bytesAtRecall(points: ReadonlyArray<{ bytes: number; recall: number }>, target: number): number | null {
  const s = [...points].sort((a, b) => a.bytes - b.bytes);
  for (let i = 0; i < s.length; i++) {
    if (s[i].recall < target) continue;
    if (i === 0) return s[0].bytes;
    const a = s[i - 1];
    const b = s[i];
    if (a.recall >= target) return a.bytes;
    const t = (target - a.recall) / (b.recall - a.recall);
    return Math.exp(Math.log(a.bytes) + t * (Math.log(b.bytes) - Math.log(a.bytes)));
  }
  return null;
}
