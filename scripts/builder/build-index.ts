// Embeddings + items → the values of one index version (format.ts), in memory.
// Nothing here touches KV; the build writes what this returns. The steps read
// like the format: records (their hashes are the keys shards point at), the
// tree (partition or the base version's), PQ codes, shards, routing, catalog.
// The vectors may come from a file a chunk at a time and the records may go
// straight to an items.pack (docs/decisions.md#streamed-build): then no step
// holds either whole, and centroids and codebooks train on a sample.
import { createHash } from "node:crypto";
import {
  blobToText,
  encodeCatalog,
  encodeRouting,
  encodeShard,
  hex,
  ITEM_KEY_BYTES,
  SHARD_HASH_BYTES,
  shardStoredLength,
  splitParts,
  type ItemRecord,
  type Routing,
  type Shard,
} from "../../lib/index/format.ts";
import type { IndexParams } from "../../lib/index/manifest.ts";
import type { FilterField } from "../../lib/filter/values.ts";
import { keepInMemory, keepOnDisk, textBlob, type KeepValue, type TextBlob } from "./packing/text-blob.ts";
import { buildFilterValues, type FilterValues } from "./packing/filter-values.ts";
import { encodeColumns } from "./packing/filter-columns.ts";
import { residentCopy, type ResidentCopy } from "./packing/resident-blocks.ts";
import type { LexicalBase } from "./packing/lexical-base.ts";
import { buildLexical, type LexicalValues } from "./packing/lexical-values.ts";
import { KeyMap } from "./key-map.ts";

export { textBlob, type TextBlob };
import { fromScaledRows, quantizeInt8, snapToScaledRows, toScaledRows } from "../../lib/index/quantize.ts";
import { nearestLeaves } from "../../lib/index/reader.ts";
import { toBase64 } from "../../lib/index/base64.ts";
import type { CorpusItem } from "./corpus/read-corpus.ts";
import { ComputePool } from "./pools/compute-pool.ts";
import { concat } from "../../lib/index/concat.ts";
import { pqEncodeRows } from "./training/kernels.ts";
import { dotInt8 } from "../../lib/index/vector.ts";
import { assignPartition, trainPartition, type TrainedPartition } from "./training/partition.ts";
import { buildCells, type Cells } from "./training/cells.ts";
import { poolAssigner, trainCodebooks } from "./training/pq.ts";
import { rotateRows, sampleRows, trainRotation } from "./training/opq.ts";
import { gatherRows } from "./training/kernels.ts";
import { distinctRows, gatherSource, vectorSource, type VectorSource } from "./embedding/vector-source.ts";
import { RowPasses, type Chunk } from "./pools/row-passes.ts";
import { sharedVectors } from "./embedding/embed-corpus.ts";
import { keyCollision, PackWriter } from "../artifacts/pack.ts";
import { residentMayFit } from "./packing/resident-blocks.ts";
import { collectGarbage, memoryLine } from "./memory.ts";

/** Rows the OPQ rotation is trained on, and k-means iterations per alternation: a fixed sample, so a round's cost does not grow with n (docs/decisions.md#opq-rotation). */
const OPQ_SAMPLE = 16384;
const OPQ_KMEANS_ITERATIONS = 6;
/**
 * Below this many items the rotation is the identity: a round's k-means and its
 * 512 × 512 polar decomposition cost about as much at 10k items as at 50k, so a
 * small build would spend most of its time there, and a small index's queries
 * read few bytes however its items are coded (the self-check then picks nprobe).
 */
const OPQ_MIN_ITEMS = 16_384;
/**
 * k-means iterations of the final item codebooks, at most, and the share of
 * the sample changing code under which a subspace stops early: the last
 * iterations move few points and lower the quantization error by fractions of
 * a percent, while the int8 re-rank corrects the codes' order anyway
 * (docs/decisions.md#pq-iterations).
 */
const PQ_KMEANS_ITERATIONS = 12;
const PQ_SETTLED = 0.03;

export interface BuiltIndex {
  params: IndexParams;
  /** Routing parts, in order. */
  routing: TextBlob[];
  /** shards[leaf] */
  shards: TextBlob[];
  /** In item order; key is `item/<16 hex>`. Empty when they went to `recordsPack`. */
  records: Array<{ key: string; text: string; bytes: number }>;
  /** The items.pack the records were written to as they were made (BuildIndexOptions.recordsPack), else null. */
  recordsPack: string | null;
  /** Every record's stored bytes, in item order (whether kept or packed). */
  recordBytes: Uint32Array;
  /** Every record's key bytes (ITEM_KEY_BYTES each), in item order. */
  keyBytes: Uint8Array;
  catalog: TextBlob[];
  /** Filter table, leaf attributes and column chunks; null when no column is filterable. */
  filters: BuiltFilters | null;
  /** The records packed for isolate memory (resident-blocks.ts); null when they would not fit. */
  resident: ResidentCopy | null;
  /** The lexical index (lexical-values.ts): head, lexicon parts, postings tails. */
  lexical: LexicalValues;
  timings: Record<string, number>;
}

export interface BuiltFilters extends FilterValues {
  fields: FilterField[];
  /** Each item's cell in the cell-order chunks (itemCells): the self-check measures how near its matches sit. */
  cellOf: Uint32Array;
  /** Each column's smallest and largest encoded value, exact (null: no item has one). */
  ranges: Array<[number, number] | null>;
}

export const DEFAULT_PARAMS = {
  /** Smaller leaves cut bytes per unit of recall; the routing grows as n / leafSize (docs/decisions.md#leaf-size). */
  leafSize: 24,
  /** Bytes of an item's code in a shard. With the OPQ rotation, 32 rank as well as 64 did without it, in smaller shards (docs/decisions.md#pqm). */
  pqM: 32,
  /** Bytes of a leaf centroid's code in the routing (isolate memory: leaves × leafPqM). */
  leafPqM: 64,
  /** Records re-ranked in round 2, at most: 32-byte codes need more of them than 64-byte ones, and buy them back in round 1 (docs/decisions.md#rerank-and-its-margin). */
  rerank: 100,
  /**
   * Round 2 re-ranks only the candidates within this PQ-score margin of the
   * k-th best (lib/index/rerank-depth.ts): the recall of a fixed depth for
   * fewer record bytes (docs/decisions.md#rerank-and-its-margin).
   */
  rerankMargin: 0.06,
  nprobe: 64,
  /**
   * Unfiltered queries probe past nprobe every leaf within this centroid-score
   * margin of the best, up to 4 × nprobe (lib/index/leaves.ts): more recall
   * than a fixed nprobe, for fewer bytes than a larger fixed one
   * (docs/decisions.md#probe-margin).
   */
  probeMargin: 0.1,
  /**
   * Leaves scored in memory per query, taken group by group (the groups'
   * leaves are contiguous), at least: a larger index scores SCAN_SHARE of its
   * leaves (docs/decisions.md#leaves-scored-per-query).
   */
  scanLeaves: 2048,
  /**
   * Round 1's shard bytes, at most: each step up buys recall with bytes; this
   * is the smallest cap that met the self-check's target recall on headlines
   * (docs/decisions.md#round-1-shard-cap).
   */
  maxShardBytes: 168 * 1024,
  seed: 7,
  /** OPQ alternations for the item quantizer's rotation (opq.ts); 0 keeps the identity. */
  opqRounds: 6,
  /** Rows the item codebooks are trained on (k-means of 256 centroids per subspace). */
  pqSample: 32768,
  /** SOAR's λ for the second leaf every item is also stored in (spill.ts); 0 stores each item once. */
  soarLambda: 1,
  /**
   * Rows the centroids and codebooks train on when the vectors are read from a
   * file a chunk at a time: every row up to this many, a seeded sample above
   * (docs/decisions.md#streamed-build).
   */
  trainRows: 1_500_000,
};

interface ExtraOptions {
  threads?: number;
  filterFields?: FilterField[];
  residentMaxBytes?: number;
  lexicalPrefix?: number;
  /** Write the records to this items.pack as they are made instead of keeping them (BuiltIndex.records stays empty). */
  recordsPack?: string;
  /** Rows per chunk of a pass over vectors read from a file (row-passes.ts). */
  chunkRows?: number;
  /** Factor on the filter chunks' sizes (scaleDefaults); 1 when absent. */
  chunkScale?: number;
  /**
   * An artifacts directory to write shards, catalog parts, filter attributes
   * and chunks and postings tails to as they are made (text-blob.ts keepOnDisk);
   * the index then holds only their addresses. Kept in memory when absent.
   */
  valuesDir?: string;
}

/**
 * Leaves a default build makes, at most: the routing an isolate holds grows
 * with the leaf count, so past this the default leaf grows instead, and the
 * filter chunks with it (the table an isolate holds has a row per chunk), which
 * keeps both near their size at this many leaves (docs/decisions.md#streamed-build).
 */
export const MAX_DEFAULT_LEAVES = 180_000;

/**
 * The share of an index's leaves a query scores, once that is more than
 * DEFAULT_PARAMS.scanLeaves: as an index grows, a query's neighbours spread
 * over more of its groups, and a fixed count would leave the farther groups
 * unscored whatever nprobe asks (docs/decisions.md#leaves-scored-per-query).
 */
export const SCAN_SHARE = 1 / 20;

/** Leaves a query of an index with `leaves` leaves scores: `atLeast`, or SCAN_SHARE of them if more, and never more than there are. */
export function scanLeavesOf(leaves: number, atLeast: number = DEFAULT_PARAMS.scanLeaves): number {
  return Math.min(leaves, Math.max(atLeast, Math.ceil(leaves * SCAN_SHARE)));
}

/** The default leaf size of an n-item build, and the factor its filter chunks grow by. */
export function scaleDefaults(n: number): { leafSize: number; chunkScale: number } {
  const leafSize = Math.max(DEFAULT_PARAMS.leafSize, Math.ceil(n / MAX_DEFAULT_LEAVES));
  return { leafSize, chunkScale: leafSize / DEFAULT_PARAMS.leafSize };
}

export type BuildIndexOptions = Partial<typeof DEFAULT_PARAMS> & ExtraOptions;

/** Row `row`'s KV key, `item/<16 hex>`. */
export function itemKey(keyBytes: Uint8Array, row: number): string {
  return `item/${hex(keyBytes, row * ITEM_KEY_BYTES, (row + 1) * ITEM_KEY_BYTES)}`;
}

export function itemRecordText(item: CorpusItem, v: Float32Array): string {
  const q = quantizeInt8(v);
  const record: ItemRecord = { id: item.id, text: item.text, meta: item.meta, s: q.scale, v: toBase64(new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.length)) };
  return JSON.stringify(record);
}

/**
 * A previous version to extend rather than rebuild: its groups, leaves and
 * codebooks are kept, items it already had stay in their leaves in their order,
 * and new items join their nearest leaf. Leaves that gained or lost no item come
 * out byte-identical, so their content-addressed shards need no upload.
 */
export interface BaseIndex {
  routing: Routing;
  /** Its decoded shards. A build extending it empties this list once their items are placed: at scale they are gigabytes it no longer needs. */
  shards: Shard[];
  /** The base's main lexicon: kept with a delta over it, or at least its cut modulus, so that parts are cut where they were. */
  lexical?: LexicalBase;
}

/** Items in a base index: spilled items sit in two of its shards. */
export function baseItemCount(base: BaseIndex): number {
  const keys = new KeyMap(base.shards.reduce((s, sh) => s + sh.count, 0));
  for (const sh of base.shards) for (let e = 0; e < sh.count; e++) keys.set(sh.keys, e * ITEM_KEY_BYTES, 0);
  return keys.size;
}

/** The tree an index is cut along: which leaf every row is in, and what routes to the leaves. */
interface Tree {
  groups: number;
  groupScales: Float32Array;
  groupCentroids: Int8Array;
  groupStart: Uint32Array;
  leafCodebooks: Float32Array;
  leafCodes: Uint8Array;
  /** Item quantizer: codebooks of rotated vectors, and the rotation. */
  codebooks: Float32Array;
  rotation: Float32Array;
  /** Rows of each leaf, in shard order. */
  members: number[][];
}



type Options = typeof DEFAULT_PARAMS & ExtraOptions;

export async function buildIndex(
  input: Float32Array | VectorSource,
  dim: number,
  items: readonly CorpusItem[],
  options: BuildIndexOptions = {},
  log: (s: string) => void = () => {},
  base?: BaseIndex,
): Promise<BuiltIndex> {
  const o: Options = { ...DEFAULT_PARAMS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    // A stage's time includes collecting its garbage; its memory line is what the next stage starts from.
    collectGarbage();
    const now = performance.now();
    timings[name] = (now - t) / 1000;
    t = now;
    log(`${name}: ${timings[name].toFixed(1)} s, ${memoryLine()}`);
  };
  const source = vectorSource(input, dim);
  if (source.rows !== items.length) throw new Error(`${source.rows} vectors for ${items.length} items`);
  const passes = RowPasses.open(source, o.threads, o.chunkRows);
  try {
    const { records, keyBytes, recordBytes } = await makeRecords(passes, items, o.recordsPack);
    const fields = o.filterFields ?? [];
    const columnValues = encodeColumns(items, fields);
    lap("records");
    const tree = base ? await extendTree(base, passes, keyBytes, o, log) : await partitionTree(passes, o, lap);
    if (base) lap("assign");
    const { codes, groupOf } = await encodeItems(passes, tree, o, fields.length > 0);
    // The last pass over the vectors: its threads and chunk buffer are not held through the values below.
    await passes.close();
    lap("pq-encode");
    const keep = o.valuesDir ? keepOnDisk(o.valuesDir) : keepInMemory;
    const shards = tree.members.map((m, leaf) => keep(shardBlob(leaf, m, keyBytes, codes, o.pqM)));
    const routing = routingParts(tree, shards, dim, o);
    const catalog = splitParts(encodeCatalog(keyBytes, Array.from(recordBytes))).map((part) => keep(textBlob(part)));
    lap("shards");
    const filters = groupOf ? filterValues(tree, groupOf, { fields, keyBytes, codes, pqM: o.pqM, leafPqM: o.leafPqM, values: columnValues, n: items.length, dim, chunkScale: o.chunkScale, keep }) : null;
    if (filters) lap("filters");
    const resident = await residentStep(source, items, keyBytes, recordBytes, o.residentMaxBytes);
    if (resident) lap("resident");
    const lexical = buildLexical(items.map((i) => i.text), keyBytes, { prefix: o.lexicalPrefix, base: base?.lexical, keep });
    lap("lexical");
    return { params: indexParams(tree, shards.length, o), routing, shards, records, recordsPack: o.recordsPack ?? null, recordBytes, keyBytes, catalog, filters, resident, lexical, timings };
  } finally {
    await passes.close();
  }
}

function indexParams(tree: Tree, leaves: number, o: Options): IndexParams {
  return {
    leaves,
    groups: tree.groups,
    scanLeaves: scanLeavesOf(leaves, o.scanLeaves),
    pqM: o.pqM,
    nprobe: Math.min(o.nprobe, leaves),
    probeMargin: o.probeMargin,
    rerank: o.rerank,
    rerankMargin: o.rerankMargin,
    seed: o.seed,
    maxShardBytes: o.maxShardBytes,
  };
}

/** The resident copy, reading the vectors of a file source only when the records might fit. */
async function residentStep(source: VectorSource, items: readonly CorpusItem[], keyBytes: Uint8Array, recordBytes: Uint32Array, maxBytes?: number): Promise<ResidentCopy | null> {
  if (!residentMayFit(items.length, source.dim, maxBytes)) return null;
  const vectors = source.whole ?? (await source.read(0, source.rows));
  return residentCopy(vectors, source.dim, items, keyBytes, Array.from(recordBytes), maxBytes);
}

function filterValues(tree: Tree, groupOf: Uint32Array, x: { fields: FilterField[]; keyBytes: Uint8Array; codes: Uint8Array; pqM: number; leafPqM: number; values: Float64Array; n: number; dim: number; chunkScale?: number; keep: KeepValue }): BuiltFilters {
  const cells = buildCells({ dim: x.dim, groups: tree.groups, groupStart: tree.groupStart, leafPqM: x.leafPqM, leafCodes: tree.leafCodes, leafCodebooks: tree.leafCodebooks });
  const cellOf = itemCells(tree, cells, groupOf, x.n);
  const built = buildFilterValues({ members: tree.members, groups: tree.groups, cells, cellOf, keyBytes: x.keyBytes, codes: x.codes, pqM: x.pqM, values: x.values, columns: x.fields.length, n: x.n, chunkScale: x.chunkScale, keep: x.keep });
  return { fields: x.fields, cellOf, ranges: columnRanges(x.values, x.fields.length, x.n), ...built };
}

function columnRanges(values: Float64Array, columns: number, n: number): Array<[number, number] | null> {
  return Array.from({ length: columns }, (_, c) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[c * n + i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? [lo, hi] : null;
  });
}

/** Each item's cell: that of its first leaf in its group (itemGroups). */
function itemCells(tree: Tree, cells: Cells, groupOf: Uint32Array, n: number): Uint32Array {
  const out = new Uint32Array(n).fill(cells.cells);
  for (let g = 0; g < tree.groups; g++) {
    for (let leaf = tree.groupStart[g]; leaf < tree.groupStart[g + 1]; leaf++) {
      const cell = cells.groupCells[g] + cells.leafCell[leaf];
      for (const r of tree.members[leaf]) if (groupOf[r] === g && out[r] === cells.cells) out[r] = cell;
    }
  }
  return out;
}

/** The leaves holding each row, two slots a row (−1 when empty): a spilled item sits in two. */
function leavesOfRows(tree: Tree, n: number): Int32Array {
  const out = new Int32Array(2 * n).fill(-1);
  tree.members.forEach((rows, leaf) => {
    for (const r of rows) {
      if (out[2 * r] < 0) out[2 * r] = leaf;
      else if (out[2 * r + 1] < 0) out[2 * r + 1] = leaf;
      else throw new Error(`item ${r} sits in more than two leaves`);
    }
  });
  return out;
}

/**
 * Each item's group for the cell-order chunks: of the groups of the leaves
 * holding it (two when it was spilled), the one whose centroid scores it
 * higher, ties to the lower group, so a spilled item sits with its own
 * neighbours. Depends only on the tree and the vector, so an extending build,
 * which keeps both, keeps it.
 */
function itemGroups(tree: Tree, leafGroup: Uint32Array, rowLeaves: Int32Array, c: Chunk, out: Uint32Array): void {
  const dim = c.pool.dim;
  for (let r = c.start; r < c.end; r++) {
    let best = -Infinity;
    let group = 0;
    for (const leaf of [rowLeaves[2 * r], rowLeaves[2 * r + 1]]) {
      if (leaf < 0) continue;
      const g = leafGroup[leaf];
      const score = dotInt8(c.vectors.subarray((r - c.start) * dim, (r - c.start + 1) * dim), tree.groupCentroids, g * dim, dim) * tree.groupScales[g];
      if (score > best || (score === best && g < group)) {
        best = score;
        group = g;
      }
    }
    out[r] = group;
  }
}

/**
 * Item records; their sha256 prefixes are the keys the shards point at. Kept in
 * memory, or written to `pack` as they are made.
 */
async function makeRecords(passes: RowPasses, items: readonly CorpusItem[], pack: string | undefined) {
  const n = items.length;
  const dim = passes.dim;
  const records: BuiltIndex["records"] = pack ? [] : new Array(n);
  const keyBytes = new Uint8Array(n * ITEM_KEY_BYTES);
  const recordBytes = new Uint32Array(n);
  const writer = pack ? await PackWriter.create(pack, n) : null;
  try {
    await passes.each(async (c) => {
      for (let i = c.start; i < c.end; i++) {
        const text = itemRecordText(items[i], c.vectors.subarray((i - c.start) * dim, (i - c.start + 1) * dim));
        const digest = createHash("sha256").update(text).digest();
        keyBytes.set(digest.subarray(0, ITEM_KEY_BYTES), i * ITEM_KEY_BYTES);
        const key = itemKey(keyBytes, i);
        recordBytes[i] = Buffer.byteLength(text);
        if (!writer) records[i] = { key, text, bytes: recordBytes[i] };
        else {
          const flushing = writer.add(key, text);
          if (flushing) await flushing;
        }
      }
    });
  } finally {
    await writer?.close();
  }
  const same = keyCollision(keyBytes, n);
  if (same) throw new Error(`item key collision between ids ${items[same[0]].id} and ${items[same[1]].id}; this needs a wider key`);
  return { records, keyBytes, recordBytes };
}

/** The rows the centroids and codebooks train on: every row in memory, else up to trainRows of the file. */
async function trainingPool(passes: RowPasses, o: Options): Promise<ComputePool> {
  const whole = passes.wholePool;
  if (whole) return whole;
  const rows = distinctRows(passes.rows, o.trainRows, o.seed + 8);
  const sample = await gatherSource(passes.source, rows, sharedVectors(rows.length, passes.dim), passes.chunkRows);
  return new ComputePool(sample, passes.dim, o.threads);
}

/**
 * The item quantizer and the tree's levels, trained on the training pool, which
 * is closed here: a sample's buffer is then unreferenced before the passes over
 * every row begin.
 */
async function trainTree(passes: RowPasses, o: Options, lap: (name: string) => void): Promise<{ quantizer: { codebooks: Float32Array; rotation: Float32Array }; trained: TrainedPartition }> {
  const train = await trainingPool(passes, o);
  const everyRow = train === passes.wholePool;
  try {
    const quantizer = await trainItemQuantizer(train, o);
    lap("pq-train");
    const trained = await trainPartition(train, passes.rows, Math.max(1, Math.round(passes.rows / o.leafSize)), o.seed, everyRow);
    return { quantizer, trained };
  } finally {
    if (!everyRow) await train.close();
  }
}

async function partitionTree(passes: RowPasses, o: Options, lap: (name: string) => void): Promise<Tree> {
  const n = passes.rows;
  const dim = passes.dim;
  const { quantizer, trained } = await trainTree(passes, o, lap);
  const p = await assignPartition(passes, trained, o.soarLambda > 0 ? { lambda: o.soarLambda } : undefined);
  lap("partition");
  // A leaf's own rows first, then the rows spilled into it.
  const members: number[][] = Array.from({ length: p.leaves }, () => []);
  for (let i = 0; i < n; i++) members[p.leafOf[i]].push(i);
  for (let i = 0; i < n; i++) if (p.spillOf[i] >= 0) members[p.spillOf[i]].push(i);
  // Snapped to what the routing stores, so leaves are coded with the values queries score with.
  const leafCodebooks = snapToScaledRows(await trainCodebooks(p.centroids, dim, p.leaves, o.leafPqM, { seed: o.seed + 4 }, poolAssigner(passes.pool)), o.leafPqM);
  const groupCentroids = new Int8Array(p.groups * dim);
  const groupScales = new Float32Array(p.groups);
  for (let g = 0; g < p.groups; g++) groupScales[g] = quantizeInt8(p.groupCentroids.subarray(g * dim, (g + 1) * dim), groupCentroids.subarray(g * dim, (g + 1) * dim)).scale;
  return {
    groups: p.groups,
    groupScales,
    groupCentroids,
    groupStart: Uint32Array.from(p.groupStart),
    leafCodebooks,
    leafCodes: pqEncodeRows(p.centroids, dim, 0, p.leaves, leafCodebooks, o.leafPqM),
    ...quantizer,
    members,
  };
}

/** The item quantizer: an OPQ rotation (opq.ts), then codebooks of the rotated sample. */
async function trainItemQuantizer(pool: ComputePool, o: Options): Promise<{ codebooks: Float32Array; rotation: Float32Array }> {
  const { vectors, dim } = pool;
  const n = vectors.length / dim;
  const assign = poolAssigner(pool);
  const rounds = n < OPQ_MIN_ITEMS ? 0 : o.opqRounds;
  // Snapped to what the routing stores (as the codebooks below), so items are coded with the values queries score with.
  const rotation = snapToScaledRows(await trainRotation(vectors, dim, n, { pqM: o.pqM, rounds, sample: OPQ_SAMPLE, kmeansIterations: OPQ_KMEANS_ITERATIONS, seed: o.seed + 6 }, assign), dim);
  const rows = gatherRows(vectors, dim, sampleRows(n, Math.min(n, o.pqSample), o.seed + 5));
  const codebooks = await trainCodebooks(rotateRows(rows, dim, rotation), dim, rows.length / dim, o.pqM, { sample: rows.length / dim, iterations: PQ_KMEANS_ITERATIONS, settled: PQ_SETTLED, seed: o.seed + 5 }, assign);
  return { codebooks: snapToScaledRows(codebooks, o.pqM), rotation };
}

/** The base version's tree, its items kept in place (spilled ones in both leaves), new ones routed to their nearest leaf as a query would be, unspilled. */
async function extendTree(base: BaseIndex, passes: RowPasses, keyBytes: Uint8Array, o: Options, log: (s: string) => void): Promise<Tree> {
  const r = base.routing;
  const dim = passes.dim;
  const n = passes.rows;
  if (r.dim !== dim || r.pqM !== o.pqM || r.leafPqM !== o.leafPqM) throw new Error("the base index has other dimensions or PQ sizes; rebuild without it");
  const rowOf = KeyMap.rows(keyBytes);
  const members: number[][] = Array.from({ length: r.leaves }, () => []);
  const placed = new Uint8Array(n);
  for (const sh of base.shards) {
    for (let e = 0; e < sh.count; e++) {
      const row = rowOf.get(sh.keys, e * ITEM_KEY_BYTES);
      if (row < 0) continue;
      members[sh.leaf].push(row);
      placed[row] = 1;
    }
  }
  base.shards = [];
  let added = 0;
  // As many leaves as the version's queries score (indexParams).
  const scan = scanLeavesOf(r.leaves, o.scanLeaves);
  await passes.each((c) => {
    for (let i = c.start; i < c.end; i++) {
      if (placed[i]) continue;
      const [leaf] = nearestLeaves(r, c.vectors.subarray((i - c.start) * dim, (i - c.start + 1) * dim), 1, scan);
      members[leaf].push(i);
      added++;
    }
  });
  log(`extending the base index: ${n - added} items kept in place, ${added} assigned`);
  return {
    groups: r.groups,
    groupScales: r.groupScales,
    groupCentroids: r.groupCentroids,
    groupStart: r.groupStart,
    leafCodebooks: fromScaledRows(r.leafCodebooks),
    leafCodes: r.leafCodes,
    codebooks: fromScaledRows(r.codebooks),
    rotation: fromScaledRows(r.rotation),
    members,
  };
}

/** Every item's PQ code, on every thread, and (for filter columns) its group for the cell-order chunks. */
async function encodeItems(passes: RowPasses, tree: Tree, o: Options, groups: boolean): Promise<{ codes: Uint8Array; groupOf: Uint32Array | null }> {
  const { codebooks, rotation } = tree;
  const pqM = o.pqM;
  const n = passes.rows;
  const codes = new Uint8Array(n * pqM);
  const groupOf = groups ? new Uint32Array(n) : null;
  const rowLeaves = groups ? leavesOfRows(tree, n) : null;
  const leafGroup = new Uint32Array(tree.members.length);
  for (let g = 0; g < tree.groups; g++) leafGroup.fill(g, tree.groupStart[g], tree.groupStart[g + 1]);
  await passes.each(async (c) => {
    const parts = await c.pool.all<Uint8Array>(c.pool.ranges(c.end - c.start).map(([start, end]) => ({ kind: "pqEncode", rotation, codebooks, pqM, start, end })));
    codes.set(concat(parts), c.start * pqM);
    if (groupOf && rowLeaves) itemGroups(tree, leafGroup, rowLeaves, c, groupOf);
  });
  return { codes, groupOf };
}

function shardBlob(leaf: number, rows: number[], keyBytes: Uint8Array, codes: Uint8Array, pqM: number): TextBlob {
  const keys = new Uint8Array(rows.length * ITEM_KEY_BYTES);
  const c = new Uint8Array(rows.length * pqM);
  rows.forEach((i, j) => {
    keys.set(keyBytes.subarray(i * ITEM_KEY_BYTES, (i + 1) * ITEM_KEY_BYTES), j * ITEM_KEY_BYTES);
    c.set(codes.subarray(i * pqM, (i + 1) * pqM), j * pqM);
  });
  return textBlob(blobToText(encodeShard({ leaf, count: rows.length, pqM, keys, codes: c })));
}

function routingParts(tree: Tree, shards: TextBlob[], dim: number, o: Options): TextBlob[] {
  const leaves = shards.length;
  shards.forEach((s, l) => {
    // Readers size a shard from its entry count alone.
    if (s.ref.bytes !== shardStoredLength(tree.members[l].length, o.pqM)) throw new Error(`leaf ${l}'s shard is ${s.ref.bytes} bytes, not the layout's`);
  });
  const shardHashes = new Uint8Array(leaves * SHARD_HASH_BYTES);
  shards.forEach((s, l) => shardHashes.set(Buffer.from(s.ref.sha256.slice(0, SHARD_HASH_BYTES * 2), "hex"), l * SHARD_HASH_BYTES));
  const bytes = encodeRouting({
    dim,
    pqM: o.pqM,
    leafPqM: o.leafPqM,
    groups: tree.groups,
    leaves,
    groupScales: tree.groupScales,
    groupCentroids: tree.groupCentroids,
    groupStart: tree.groupStart,
    leafCodebooks: toScaledRows(tree.leafCodebooks, o.leafPqM),
    codebooks: toScaledRows(tree.codebooks, o.pqM),
    rotation: toScaledRows(tree.rotation, dim),
    leafCodes: tree.leafCodes,
    leafSizes: Uint32Array.from(tree.members, (m) => m.length),
    shardHashes,
  });
  return splitParts(bytes).map(textBlob);
}
