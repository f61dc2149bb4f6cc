// Spilled assignment (SOAR: Sun, Guo, Kumar, "SOAR: improved indexing for
// approximate nearest neighbor search", NeurIPS 2023). Every item also goes into
// a second leaf, chosen to minimise
//     |x − c'|² + λ · ((x − c)·(x − c'))² / |x − c|²
// (c its own leaf's centroid): near c' and with a residual far from parallel to
// its first one, so that a query which misses the item's first leaf — the
// queries whose direction is along that residual — tends to probe the second.
// That raises recall at the same shard bytes, where the plain second-nearest
// leaf (λ = 0) loses ground (docs/decisions.md#soar-spill).
import type { ComputePool } from "../pools/compute-pool.ts";

export interface SpillOptions {
  /** SOAR's weight on the residuals' alignment. */
  lambda: number;
}


/**
 * Each row's second leaf among the leaves of its two nearest groups (one task
 * per group, as the primary assignment), or −1 when those hold no other leaf.
 */
export async function spillLeaves(
  pool: ComputePool,
  leafOf: Int32Array,
  centroids: Float32Array,
  groupStart: Int32Array,
  groupsOfRows: Int32Array,
  o: SpillOptions,
): Promise<Int32Array> {
  const n = leafOf.length;
  const groups = groupStart.length - 1;
  const rowsOf: number[][] = Array.from({ length: groups }, () => []);
  for (let i = 0; i < n; i++) for (const g of [groupsOfRows[i * 2], groupsOfRows[i * 2 + 1]]) if (g >= 0) rowsOf[g].push(i);
  const live = rowsOf.map((rows, g) => ({ rows: Int32Array.from(rows), g })).filter(({ rows, g }) => rows.length > 0 && groupStart[g + 1] > groupStart[g]);
  const results = await pool.all<{ ids: Int32Array; costs: Float32Array }>(
    live.map(({ rows, g }) => ({ kind: "soarBest", rows, primary: rows.map((r) => leafOf[r]), leafCentroids: centroids, from: groupStart[g], to: groupStart[g + 1], lambda: o.lambda })),
  );
  const second = new Int32Array(n).fill(-1);
  const best = new Float32Array(n).fill(Infinity);
  live.forEach(({ rows }, t) => {
    const r = results[t];
    rows.forEach((row, j) => {
      // Ties go to the lower leaf id, whatever order the groups came in.
      if (r.ids[j] >= 0 && (r.costs[j] < best[row] || (r.costs[j] === best[row] && r.ids[j] < second[row]))) {
        best[row] = r.costs[j];
        second[row] = r.ids[j];
      }
    });
  });
  return second;
}
