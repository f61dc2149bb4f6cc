// Two-level spherical k-means: about sqrt(leaves) groups, each split into leaves
// in proportion to its size. k-means trains on samples (a fixed number of rows
// per centroid), so its cost grows with the leaf count, not with n · leaves;
// only the assignment passes touch every row, and an item is compared with the
// leaves of its two nearest groups, not with every leaf. Every pass runs on the
// compute pool's threads. The centroids train on a sample pool (every row when
// they fit in memory); the assignment passes go over every row a chunk at a time
// (row-passes.ts), so a corpus larger than memory partitions the same way.
import { normalizeInPlace } from "../../../lib/model/embed.ts";
import type { ComputePool } from "../pools/compute-pool.ts";
import type { RowPasses } from "../pools/row-passes.ts";
import { shared } from "../pools/compute-pool.ts";
import { concat } from "../../../lib/index/concat.ts";
import type { KMeansOptions } from "./kernels.ts";
import { spillLeaves, type SpillOptions } from "./spill.ts";

/**
 * k-means of each level, but for the seed. Rows trained on per centroid: enough for stable centroids,
 * bounded cost at any n; fewer rows or iterations per leaf cost recall (docs/decisions.md#partition-sample).
 */
const GROUP_KMEANS: Omit<KMeansOptions, "seed"> = { samplesPerCentroid: 64, iterations: 8 };
const LEAF_KMEANS: Omit<KMeansOptions, "seed"> = { samplesPerCentroid: 32, iterations: 10 };

export interface Partition {
  dim: number;
  leaves: number;
  /** leaves × dim, unit length: the normalized mean of each leaf's members. */
  centroids: Float32Array;
  groups: number;
  groupCentroids: Float32Array;
  /** Leaves of group g are groupStart[g] .. groupStart[g + 1] - 1. */
  groupStart: Int32Array;
  /** The leaf of every row (every leaf has at least one). */
  leafOf: Int32Array;
  /** Each row's second (spilled) leaf, −1 for none; all −1 when not spilling. */
  spillOf: Int32Array;
}

/** The trained levels: group centroids, leaf centroids by group, and the training rows' two nearest groups. */
export interface TrainedPartition {
  groupCentroids: Float32Array;
  leafCentroids: Float32Array;
  groupStart: Int32Array;
  /** Two group ids per training row, best first (reused by a pass over the same rows). */
  groupsOfTrain: Int32Array;
  /** Whether the levels trained on every row, in row order (the pass then reuses groupsOfTrain). Not the pool itself: a sample's buffer is freed once training ends. */
  everyRow: boolean;
}

/**
 * The levels' centroids, trained on `train`'s rows: every row of the index, or
 * a sample of them for vectors read in chunks. `n` is the index's row count,
 * which sets the leaf count with `targetLeaves`.
 */
export async function trainPartition(train: ComputePool, n: number, targetLeaves: number, seed: number, everyRow: boolean): Promise<TrainedPartition> {
  const m = train.vectors.length / train.dim;
  targetLeaves = Math.max(1, Math.min(targetLeaves, n));
  const groupCount = Math.max(1, Math.round(Math.sqrt(targetLeaves)));
  const groupCentroids = await trainGroups(train, m, groupCount, seed);
  const groupsOfTrain = await nearestGroups(train, m, groupCentroids);
  const { leafCentroids, groupStart } = await trainLeaves(train, m, groupsOfTrain, groupCentroids.length / train.dim, targetLeaves, seed);
  return { groupCentroids, leafCentroids, groupStart, groupsOfTrain, everyRow };
}

/**
 * Every row's leaf (a pass over all rows, chunk by chunk), the leaf centroids
 * made the means of their members, then each row's spilled leaf (a second
 * pass). A pool that trained on every row is not asked for its groups again.
 */
export async function assignPartition(passes: RowPasses, t: TrainedPartition, spill?: SpillOptions): Promise<Partition> {
  const n = passes.rows;
  const dim = passes.dim;
  const reuse = t.everyRow;
  const groupsOfRows = reuse ? t.groupsOfTrain : new Int32Array(2 * n);
  const leafOf = new Int32Array(n);
  const sums = new Float64Array(t.groupStart[t.groupStart.length - 1] * dim);
  await passes.each(async (c) => {
    const rows = c.end - c.start;
    const groups = reuse ? t.groupsOfTrain : await nearestGroups(c.pool, rows, t.groupCentroids);
    if (!reuse) groupsOfRows.set(groups, 2 * c.start);
    const leaves = await assignToLeaves(c.pool, rows, t.leafCentroids, t.groupStart, groups);
    leafOf.set(leaves, c.start);
    addRows(sums, c.vectors, dim, leaves);
  });
  const p = finalize(dim, n, t.groupCentroids, t.groupStart, leafOf, sums);
  if (spill) p.spillOf = await spillPass(passes, p, groupsOfRows, spill);
  return p;
}

/** Each row added to its leaf's sum, in row order (the sum finalize normalizes). */
function addRows(sums: Float64Array, vectors: Float32Array, dim: number, leafOf: Int32Array): void {
  for (let i = 0; i < leafOf.length; i++) {
    const o = leafOf[i] * dim;
    for (let d = 0; d < dim; d++) sums[o + d] += vectors[i * dim + d];
  }
}

async function spillPass(passes: RowPasses, p: Partition, groupsOfRows: Int32Array, spill: SpillOptions): Promise<Int32Array> {
  const out = new Int32Array(passes.rows);
  const centroids = shared(p.centroids);
  await passes.each(async (c) => {
    out.set(await spillLeaves(c.pool, p.leafOf.subarray(c.start, c.end), centroids, p.groupStart, groupsOfRows.subarray(2 * c.start, 2 * c.end), spill), c.start);
  });
  return out;
}

async function trainGroups(pool: ComputePool, n: number, groups: number, seed: number): Promise<Float32Array> {
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const options: KMeansOptions = { ...GROUP_KMEANS, seed };
  const [centroids] = await pool.all<Float32Array>([{ kind: "kmeans", rows, k: groups, options }]);
  return shared(centroids);
}

/** Two group ids per row, best first. */
async function nearestGroups(pool: ComputePool, n: number, centroids: Float32Array): Promise<Int32Array> {
  const parts = await pool.all<Int32Array>(pool.ranges(n).map(([start, end]) => ({ kind: "nearestTwo", centroids, start, end })));
  return concat(parts);
}

/** Each group's leaves, trained on the rows whose nearest group it is; leaf ids contiguous per group. */
async function trainLeaves(pool: ComputePool, n: number, groupsOfRows: Int32Array, groups: number, targetLeaves: number, seed: number) {
  const members: number[][] = Array.from({ length: groups }, () => []);
  for (let i = 0; i < n; i++) members[groupsOfRows[i * 2]].push(i);
  const tasks = members.map((m, g) => {
    const k = Math.max(1, Math.round((targetLeaves * m.length) / n));
    const options: KMeansOptions = { ...LEAF_KMEANS, seed: seed + g + 1 };
    return { kind: "kmeansTree" as const, rows: Int32Array.from(m), k: m.length ? k : 0, options };
  });
  const trained = await pool.all<Float32Array>(tasks.filter((t) => t.k > 0));
  const groupStart = new Int32Array(groups + 1);
  let t = 0;
  let leaves = 0;
  tasks.forEach((task, g) => {
    groupStart[g] = leaves;
    if (task.k > 0) leaves += trained[t++].length / pool.dim;
  });
  groupStart[groups] = leaves;
  const leafCentroids = new Float32Array(new SharedArrayBuffer(leaves * pool.dim * 4));
  let o = 0;
  for (const c of trained) {
    leafCentroids.set(c, o);
    o += c.length;
  }
  return { leafCentroids, groupStart: shared(groupStart) };
}

/** Each row's nearest leaf among the leaves of its two nearest groups (one task per group). */
async function assignToLeaves(pool: ComputePool, n: number, leafCentroids: Float32Array, groupStart: Int32Array, groupsOfRows: Int32Array): Promise<Int32Array> {
  const groups = groupStart.length - 1;
  const rowsOf: number[][] = Array.from({ length: groups }, () => []);
  for (let i = 0; i < n; i++) for (const g of [groupsOfRows[i * 2], groupsOfRows[i * 2 + 1]]) if (g >= 0) rowsOf[g].push(i);
  const live = rowsOf.map((rows, g) => ({ rows, g })).filter(({ rows, g }) => rows.length > 0 && groupStart[g + 1] > groupStart[g]);
  const results = await pool.all<{ ids: Int32Array; scores: Float32Array }>(
    live.map(({ rows, g }) => ({ kind: "bestLeaf", rows: Int32Array.from(rows), leafCentroids, from: groupStart[g], to: groupStart[g + 1] })),
  );
  const leafOf = new Int32Array(n).fill(-1);
  const best = new Float32Array(n).fill(-Infinity);
  live.forEach(({ rows }, t) => {
    const r = results[t];
    rows.forEach((row, j) => {
      // Ties go to the lower leaf id, whatever order the groups came in.
      if (r.scores[j] > best[row] || (r.scores[j] === best[row] && r.ids[j] < leafOf[row])) {
        best[row] = r.scores[j];
        leafOf[row] = r.ids[j];
      }
    });
  });
  return leafOf;
}

/**
 * Leaf centroids become the normalized means of their members (one more Lloyd
 * step, on every row rather than the training sample: `sums` by trained leaf);
 * leaves left empty are dropped and the rest renumbered, keeping each group's
 * leaves contiguous.
 */
function finalize(dim: number, n: number, groupCentroids: Float32Array, groupStart: Int32Array, leafOf: Int32Array, sums: Float64Array): Partition {
  const trained = groupStart[groupStart.length - 1];
  const counts = new Int32Array(trained);
  for (let i = 0; i < n; i++) counts[leafOf[i]]++;
  const renumber = new Int32Array(trained).fill(-1);
  const groups = groupStart.length - 1;
  const keptStart = new Int32Array(groups + 1);
  let leaves = 0;
  for (let g = 0; g < groups; g++) {
    keptStart[g] = leaves;
    for (let l = groupStart[g]; l < groupStart[g + 1]; l++) if (counts[l] > 0) renumber[l] = leaves++;
  }
  keptStart[groups] = leaves;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = renumber[leafOf[i]];
  const centroids = new Float32Array(leaves * dim);
  for (let l = 0; l < trained; l++) {
    if (renumber[l] < 0) continue;
    const c = centroids.subarray(renumber[l] * dim, (renumber[l] + 1) * dim);
    for (let d = 0; d < dim; d++) c[d] = sums[l * dim + d];
    normalizeInPlace(c);
  }
  // A group whose leaves all emptied keeps an empty range; the reader skips it.
  return { dim, leaves, centroids, groups, groupCentroids: Float32Array.from(groupCentroids), groupStart: keptStart, leafOf: out, spillOf: new Int32Array(n).fill(-1) };
}
