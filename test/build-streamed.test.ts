// The streamed build (docs/decisions.md#streamed-build): vectors read from a
// file a chunk at a time and records written to a pack as they are made give
// the same index, byte for byte, as the in-memory build when every row is
// trained on, and shards, catalog, filter values and postings tails written out
// as they are made read back as the in-memory build's; with half the rows as
// the training sample, the partition differs and recall stays within 0.005 of
// the in-memory build's.
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../lib/index/manifest.ts";
import type { FilterField } from "../lib/filter/values.ts";
import { openIndex, searchVector } from "../lib/index/reader.ts";
import { buildIndex, DEFAULT_PARAMS, MAX_DEFAULT_LEAVES, SCAN_SHARE, scaleDefaults, scanLeavesOf, type BuiltIndex } from "../scripts/builder/build-index.ts";
import { FileVectors } from "../scripts/builder/embedding/vector-source.ts";
import { MemorySource } from "../scripts/artifacts/memory-source.ts";
import { blobPath, ensureDirs, writeItemsPack } from "../scripts/artifacts/dir.ts";
import { lexicalBlobs } from "../scripts/builder/packing/lexical-values.ts";
import { exactTopK } from "../scripts/builder/check/self-check.ts";
import { clusteredVectors, madeUpItems, tempDir } from "./helpers/build-fixtures.ts";

const N = 24_000;
const D = 128;
const QUERIES = 300;
const DAY: FilterField[] = [{ name: "day", type: "number" }];
const OPTIONS = { threads: 2, opqRounds: 2, pqSample: 8192, filterFields: DAY };
/** Chunks that do not divide N, so the last one is short. */
const CHUNK_ROWS = 5_000;

let t: Awaited<ReturnType<typeof tempDir>>;
let rows: Float32Array;
let queries: Float32Array[];
let file: string;
let inMemory: BuiltIndex;
let streamed: BuiltIndex;
const items = madeUpItems(N).map((it, i) => ({ ...it, meta: { day: i % 90 } }));

async function fromFile(pack: string, trainRows?: number, valuesDir?: string): Promise<BuiltIndex> {
  const source = await FileVectors.open(file, N, D);
  try {
    return await buildIndex(source, D, items, { ...OPTIONS, chunkRows: CHUNK_ROWS, recordsPack: path.join(t.dir, pack), trainRows, valuesDir });
  } finally {
    await source.close();
  }
}

async function recall(built: BuiltIndex): Promise<number> {
  const manifest = { dim: D, items: N, params: { ...built.params, nprobe: 12, maxShardBytes: undefined }, routing: built.routing.map((p) => p.ref), catalog: built.catalog.map((p) => p.ref) } as unknown as Manifest;
  const h = await openIndex(manifest, await MemorySource.ofBuilt(built));
  let hits = 0;
  for (const q of queries) {
    const truth = new Set(exactTopK(rows, D, N, q, 10).map((i) => items[i].id));
    const { results } = await searchVector(h, q, { k: 10, probeMargin: 0 });
    hits += results.filter((r) => truth.has(r.id)).length;
  }
  return hits / (10 * queries.length);
}

beforeAll(async () => {
  t = await tempDir("esr-streamed-test-");
  const { vectors } = clusteredVectors(N + QUERIES, D, 600, 21, 4);
  rows = vectors.slice(0, N * D);
  queries = Array.from({ length: QUERIES }, (_, i) => vectors.slice((N + i) * D, (N + i + 1) * D));
  file = path.join(t.dir, "vectors.f32");
  await writeFile(file, new Uint8Array(rows.buffer));
  inMemory = await buildIndex(rows, D, items, OPTIONS);
  await ensureDirs(path.join(t.dir, "values"));
  streamed = await fromFile("streamed.pack", undefined, path.join(t.dir, "values"));
}, 300_000);

afterAll(async () => {
  await t?.cleanup();
});

const texts = (blobs: Array<{ text: string }>) => blobs.map((b) => b.text);

describe("a build from vectors read in chunks, records written to a pack", () => {
  it("gives the in-memory build's routing, shards, catalog, filter values and lexicon, byte for byte", () => {
    expect(streamed.params).toEqual(inMemory.params);
    expect(texts(streamed.routing)).toEqual(texts(inMemory.routing));
    expect(streamed.shards.length).toBe(inMemory.shards.length);
    expect(texts(streamed.shards)).toEqual(texts(inMemory.shards));
    expect(texts(streamed.catalog)).toEqual(texts(inMemory.catalog));
    const f = (b: BuiltIndex) => [...b.filters!.table, ...b.filters!.attributes, ...b.filters!.chunks].map((x) => x.text);
    expect(f(streamed)).toEqual(f(inMemory));
    expect(Array.from(streamed.filters!.cellOf)).toEqual(Array.from(inMemory.filters!.cellOf));
    expect(texts(streamed.lexical.head)).toEqual(texts(inMemory.lexical.head));
    expect(texts(lexicalBlobs(streamed.lexical))).toEqual(texts(lexicalBlobs(inMemory.lexical)));
  });

  it("writes shards, catalog parts, filter attributes and chunks and lexicon parts and tails out as it makes them, holding only their addresses", async () => {
    const dir = path.join(t.dir, "values");
    const f = streamed.filters!;
    const out = [...streamed.shards, ...streamed.catalog, ...f.attributes, ...f.chunks, ...streamed.lexical.parts, ...streamed.lexical.tails];
    expect(streamed.lexical.tails.length).toBeGreaterThan(0);
    for (const b of out) {
      expect(b.file).toBe(blobPath(dir, b.ref.key));
      // Read back from the file, not a string kept beside the address.
      expect(Object.getOwnPropertyDescriptor(b, "text")?.get).toBeTypeOf("function");
    }
    // The small values an index needs whole stay in memory.
    for (const b of [...streamed.routing, ...f.table, ...streamed.lexical.head]) expect(b.file).toBeUndefined();
    // Nothing else is written, and no temporary file is left.
    expect((await readdir(path.join(dir, "blobs"))).sort()).toEqual([...new Set(out.map((b) => b.ref.key.slice(5)))].sort());
  });

  it("writes the records the in-memory build keeps, as the same items.pack, and keeps none in memory", async () => {
    expect(streamed.records).toEqual([]);
    expect(streamed.recordsPack).toBe(path.join(t.dir, "streamed.pack"));
    expect(Array.from(streamed.recordBytes)).toEqual(inMemory.records.map((r) => r.bytes));
    await writeItemsPack(t.dir, inMemory.records);
    expect(Buffer.compare(await readFile(streamed.recordsPack!), await readFile(path.join(t.dir, "items.pack")))).toBe(0);
  });

  it("trained on a sample of half the rows, it partitions differently and its recall stays within 0.005", async () => {
    const sampled = await fromFile("sampled.pack", N / 2);
    expect(texts(sampled.shards)).not.toEqual(texts(inMemory.shards));
    const full = await recall(inMemory);
    const half = await recall(sampled);
    expect(full).toBeGreaterThan(0.8);
    expect(half).toBeGreaterThan(full - 0.005);
  }, 300_000);
});

describe("defaults past MAX_DEFAULT_LEAVES leaves", () => {
  it("keep the leaf size up to that many leaves, then grow it and the filter chunks by one factor", () => {
    expect(scaleDefaults(1_200_000)).toEqual({ leafSize: DEFAULT_PARAMS.leafSize, chunkScale: 1 });
    expect(scaleDefaults(MAX_DEFAULT_LEAVES * DEFAULT_PARAMS.leafSize)).toEqual({ leafSize: DEFAULT_PARAMS.leafSize, chunkScale: 1 });
    const big = scaleDefaults(10_000_000);
    expect(big.leafSize).toBe(Math.ceil(10_000_000 / MAX_DEFAULT_LEAVES));
    expect(big.chunkScale).toBeCloseTo(big.leafSize / DEFAULT_PARAMS.leafSize, 12);
  });

  it("a query scores at least DEFAULT_PARAMS.scanLeaves leaves, and SCAN_SHARE of a larger index's", () => {
    expect(scanLeavesOf(1_000)).toBe(1_000);
    expect(scanLeavesOf(2_082)).toBe(DEFAULT_PARAMS.scanLeaves);
    expect(scanLeavesOf(DEFAULT_PARAMS.scanLeaves / SCAN_SHARE)).toBe(DEFAULT_PARAMS.scanLeaves);
    expect(scanLeavesOf(50_000)).toBe(2_500);
    expect(scanLeavesOf(178_553)).toBe(8_928);
    expect(scanLeavesOf(178_553, 10_000)).toBe(10_000);
    expect(inMemory.params.scanLeaves).toBe(Math.min(inMemory.params.leaves, DEFAULT_PARAMS.scanLeaves));
  });

  it("a chunk scale of 2 cuts about half as many filter chunks, and leaves the shards as they were", async () => {
    const doubled = await buildIndex(rows, D, items, { ...OPTIONS, chunkScale: 2 });
    expect(texts(doubled.shards)).toEqual(texts(inMemory.shards));
    const ratio = doubled.filters!.chunks.length / inMemory.filters!.chunks.length;
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(0.6);
  }, 300_000);
});
