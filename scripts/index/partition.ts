// Two-level hierarchical spherical k-means: the corpus is split into about
// sqrt(leaves) groups and each group into leaves in proportion to its size.
// Cost per level is N * branching * dim * iterations, so 1.2M items stay
// tractable where a flat k-means into thousands of leaves would not. The groups
// also make assignment cheap: an item is compared with the leaves of its few
// nearest groups, not with every leaf.
import { dot, TopK } from "../../lib/index/vector.ts";
import { sphericalKMeans, nearest } from "./kmeans.ts";

export interface Partition {
  dim: number;
  leaves: number;
  centroids: Float32Array; // leaves * dim
  groups: number;
  groupCentroids: Float32Array;
  /** Leaves of group g are groupStart[g] .. groupStart[g + 1] - 1. */
  groupStart: Int32Array;
}

export function buildPartition(vectors: Float32Array, dim: number, n: number, targetLeaves: number, seed = 7): Partition {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  targetLeaves = Math.max(1, Math.min(targetLeaves, n));
  const top = Math.max(1, Math.round(Math.sqrt(targetLeaves)));
  const first = sphericalKMeans(vectors, dim, all, top, { seed, iterations: 10 });
  const members: number[][] = Array.from({ length: first.k }, () => []);
  for (let i = 0; i < n; i++) members[nearest(first.centroids, first.k, dim, vectors, i * dim)].push(i);
  const parts: Float32Array[] = [];
  const groupCentroids: number[] = [];
  const starts: number[] = [];
  let leaves = 0;
  members.forEach((g, gi) => {
    if (g.length === 0) return;
    const want = Math.max(1, Math.round((targetLeaves * g.length) / n));
    const sub = sphericalKMeans(vectors, dim, Int32Array.from(g), want, { seed: seed + gi + 1, iterations: 10 });
    starts.push(leaves);
    groupCentroids.push(...first.centroids.subarray(gi * dim, (gi + 1) * dim));
    parts.push(sub.centroids);
    leaves += sub.k;
  });
  starts.push(leaves);
  const centroids = new Float32Array(leaves * dim);
  let o = 0;
  for (const p of parts) {
    centroids.set(p, o);
    o += p.length;
  }
  return { dim, leaves, centroids, groups: starts.length - 1, groupCentroids: Float32Array.from(groupCentroids), groupStart: Int32Array.from(starts) };
}

/**
 * The leaves an item joins: its nearest, plus (boundary duplication) up to
 * dupMax - 1 more whose cosine distance is within (1 + eps) of the nearest's.
 */
export function assignLeaves(p: Partition, vectors: Float32Array, off: number, dupMax: number, eps: number, searchGroups = 3): number[] {
  const { dim } = p;
  const groups = new TopK(Math.min(searchGroups, p.groups));
  for (let g = 0; g < p.groups; g++) groups.push(g, dot(p.groupCentroids.subarray(g * dim, (g + 1) * dim), vectors, off, dim));
  const best = new TopK(Math.max(1, dupMax));
  for (const { id: g } of groups.entries()) {
    for (let l = p.groupStart[g]; l < p.groupStart[g + 1]; l++) best.push(l, dot(p.centroids.subarray(l * dim, (l + 1) * dim), vectors, off, dim));
  }
  const e = best.entries();
  const d0 = 1 - e[0].score;
  const out = [e[0].id];
  for (let i = 1; i < e.length; i++) if (1 - e[i].score <= (1 + eps) * d0) out.push(e[i].id);
  return out;
}
