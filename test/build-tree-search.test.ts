// The k-means tree + PQ index (scripts/builder/build-index.ts) searched with the
// Worker's code (lib/index/reader.ts) against brute force, on synthetic
// clustered unit vectors (no model: the index must work for any embeddings).
import { beforeAll, describe, expect, it } from "vitest";
import { decodeCatalog, decodeRouting, decodeShard, hex, ITEM_KEY_BYTES, joinParts, textToBlob, type ItemRecord } from "../lib/index/format.ts";
import { IndexError, nearestLeaves, openIndex, searchVector, type IndexHandle } from "../lib/index/reader.ts";
import { DEFAULT_PARAMS } from "../scripts/builder/build-index.ts";
import { MemorySource } from "../scripts/artifacts/memory-source.ts";
import { exactTopK } from "../scripts/builder/check/self-check.ts";
import { PROBE_SPREAD, probedLeaves } from "../lib/index/leaves.ts";
import { manifestFor, suiteSyntheticIndex } from "./helpers/synthetic-index.ts";

// 2,000 × 512 keeps PQ training (n · 256 · dim · 10 iterations) to a few seconds.
const N = 2000;
const DIM = 512;
const QUERIES = 100;
const NPROBE = 8;

describe("tree search vs brute force (synthetic clusters)", () => {
  const ix = suiteSyntheticIndex(N, QUERIES, DIM);
  let handle: IndexHandle;

  beforeAll(async () => {
    handle = await openIndex(manifestFor(ix.built, DIM), ix.source);
  });

  it("lays out every item in its own leaf and once more in a spilled leaf, with keys pointing at its record", () => {
    const routing = decodeRouting(joinParts(ix.built.routing.map((p) => p.text)));
    expect(routing.leaves).toBe(ix.built.shards.length);
    // About N / leafSize leaves; per-group rounding makes it approximate.
    expect(routing.leaves).toBeGreaterThan(N / DEFAULT_PARAMS.leafSize * 0.8);
    expect(routing.leaves).toBeLessThan(N / DEFAULT_PARAMS.leafSize * 1.2);
    expect(routing.dim).toBe(DIM);
    expect(routing.pqM).toBe(DEFAULT_PARAMS.pqM);
    const recordKeys = new Map(ix.built.records.map((r, i) => [r.key, i]));
    const copies = new Map<string, number>();
    let total = 0;
    ix.built.shards.forEach((blob, leaf) => {
      const s = decodeShard(textToBlob(blob.text));
      expect(s.leaf).toBe(leaf);
      expect(s.count).toBe(routing.leafSizes[leaf]);
      total += s.count;
      const inShard = new Set<string>();
      for (let e = 0; e < s.count; e++) {
        const key = `item/${hex(s.keys, e * ITEM_KEY_BYTES, (e + 1) * ITEM_KEY_BYTES)}`;
        expect(recordKeys.has(key)).toBe(true);
        expect(inShard.has(key)).toBe(false);
        inShard.add(key);
        copies.set(key, (copies.get(key) ?? 0) + 1);
      }
    });
    // Every group here holds several leaves, so every item has a second one.
    expect(copies.size).toBe(N);
    expect(new Set(copies.values())).toEqual(new Set([2]));
    expect(total).toBe(2 * N);
    // The catalog lists every record's key and size, in item order.
    const catalog = decodeCatalog(joinParts(ix.built.catalog.map((p) => p.text)));
    expect(catalog).toHaveLength(N);
    const r7 = ix.built.records[7];
    expect(catalog[7]).toEqual({ key: r7.key, bytes: r7.bytes });
    const rec = JSON.parse(r7.text) as ItemRecord;
    expect(rec).toMatchObject({ id: "item-7", text: "synthetic item 7", meta: { row: 7 } });
  });

  it(`reaches recall@10 ≥ 0.95 against exact search in 2 round trips, reading a small fraction of the index (nprobe ${NPROBE})`, async () => {
    const fullScan = ix.built.shards.reduce((a, s) => a + s.ref.bytes, 0) + ix.built.records.reduce((a, r) => a + r.bytes, 0);
    let hits = 0;
    let maxBytes = 0;
    for (let qi = 0; qi < QUERIES; qi++) {
      const q = ix.queries.subarray(qi * DIM, (qi + 1) * DIM);
      const truth = new Set(exactTopK(ix.data, DIM, N, q, 10).map((i) => ix.items[i].id));
      const before = ix.source.rounds;
      const { results, stats } = await searchVector(handle, q, { k: 10, nprobe: NPROBE });
      expect(results).toHaveLength(10);
      expect(stats.roundTrips).toBe(2);
      expect(ix.source.rounds - before).toBe(2);
      expect(stats.shards).toBe(NPROBE);
      // Round 2 re-ranks the candidates near the k-th best PQ score: at least 2k, at most rerank.
      expect(stats.records).toBeGreaterThanOrEqual(2 * 10);
      expect(stats.records).toBeLessThanOrEqual(ix.built.params.rerank);
      // A spilled item is in two of the probed shards at times, and answered once.
      expect(new Set(results.map((r) => r.id)).size).toBe(results.length);
      for (let i = 1; i < results.length; i++) expect(results[i].score).toBeLessThanOrEqual(results[i - 1].score);
      for (const r of results) if (truth.has(r.id)) hits++;
      maxBytes = Math.max(maxBytes, stats.bytes);
    }
    const recall = hits / (QUERIES * 10);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // Round 1 (nprobe shards) plus round 2 (rerank records) stays a small fraction of a full scan.
    expect(maxBytes).toBeLessThan(fullScan * 0.07);
  });

  it("re-ranks the candidates within the margin of the k-th best PQ score: all of `rerank` with a wide margin, 2k with none", async () => {
    expect(ix.built.params.rerankMargin).toBe(DEFAULT_PARAMS.rerankMargin);
    const depths = { none: [] as number[], adaptive: [] as number[], wide: [] as number[] };
    for (let qi = 0; qi < 20; qi++) {
      const q = ix.queries.subarray(qi * DIM, (qi + 1) * DIM);
      const at = async (rerankMargin?: number) => (await searchVector(handle, q, { k: 10, nprobe: NPROBE, rerankMargin })).stats.records;
      depths.none.push(await at(0));
      depths.adaptive.push(await at());
      depths.wide.push(await at(2));
    }
    expect(new Set(depths.wide)).toEqual(new Set([ix.built.params.rerank]));
    // With no margin, only PQ ties with the 10th best go past the floor of 2k.
    expect(Math.min(...depths.none)).toBe(20);
    for (let i = 0; i < 20; i++) {
      expect(depths.adaptive[i]).toBeGreaterThanOrEqual(depths.none[i]);
      expect(depths.adaptive[i]).toBeLessThanOrEqual(depths.wide[i]);
    }
    // The depth follows each query's scores rather than being one number.
    expect(new Set(depths.adaptive).size).toBeGreaterThan(1);
  });

  it("probes past nprobe the leaves within the probe margin of the best: PROBE_SPREAD × nprobe with a wide margin, nprobe with none", async () => {
    expect(ix.built.params.probeMargin).toBe(DEFAULT_PARAMS.probeMargin);
    const noCap = Number.MAX_SAFE_INTEGER;
    for (let qi = 0; qi < 10; qi++) {
      const q = ix.queries.subarray(qi * DIM, (qi + 1) * DIM);
      const at = async (probeMargin: number) => (await searchVector(handle, q, { k: 10, nprobe: NPROBE, probeMargin, maxShardBytes: noCap })).stats.shards;
      expect(await at(0)).toBe(NPROBE);
      expect(await at(2)).toBe(PROBE_SPREAD * NPROBE);
      const wide = await searchVector(handle, q, { k: 10, nprobe: NPROBE, probeMargin: 2, maxShardBytes: noCap });
      expect(wide.stats.roundTrips).toBe(2);
    }
    // The extra leaves are the next best: the leaves nearestLeaves ranks after the first nprobe.
    const q = ix.queries.subarray(0, DIM);
    expect(probedLeaves(handle.routing, q, NPROBE, 2, ix.built.params.scanLeaves)).toEqual(nearestLeaves(handle.routing, q, PROBE_SPREAD * NPROBE, ix.built.params.scanLeaves));
    expect(probedLeaves(handle.routing, q, NPROBE, undefined, ix.built.params.scanLeaves)).toEqual(nearestLeaves(handle.routing, q, NPROBE, ix.built.params.scanLeaves));
  });

  it("finds each item first when queried with its own vector, with a score within the int8 bound of 1", async () => {
    for (let i = 0; i < N; i += 97) {
      const { results } = await searchVector(handle, ix.data.subarray(i * DIM, (i + 1) * DIM), { k: 3, nprobe: NPROBE });
      expect(results[0].id).toBe(`item-${i}`);
      expect(results[0].score).toBeGreaterThan(0.99);
      expect(results[0].score).toBeLessThan(1.01);
    }
  });

  it("reports a corrupt or missing shard as an IndexError, never a smaller answer", async () => {
    const q = ix.queries.subarray(0, DIM);
    for (const damage of ["corrupt", "missing"] as const) {
      const broken = MemorySource.fromBuilt(ix.built);
      for (const s of ix.built.shards) {
        if (damage === "missing") broken.values.delete(s.ref.key);
        else broken.values.set(s.ref.key, s.text.slice(0, -4) + (s.text.endsWith("AAAA") ? "BBBB" : "AAAA"));
      }
      const h = await openIndex(manifestFor(ix.built, DIM), broken);
      const err = await searchVector(h, q, { k: 10, nprobe: NPROBE }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IndexError);
      expect((err as IndexError).code).toBe(damage === "missing" ? "shard_missing" : "shard_corrupt");
    }
  });

  it("stops probing before the shard that would exceed the round-1 byte budget, nearest leaves first", async () => {
    const q = ix.queries.subarray(DIM, 2 * DIM);
    const wide = await searchVector(handle, q, { k: 10, nprobe: 20 });
    expect(wide.stats.shards).toBe(20);
    // A budget of about three median shards admits the nearest few and no more.
    const sizes = ix.built.shards.map((s) => s.ref.bytes).sort((a, b) => a - b);
    const budget = sizes[sizes.length >> 1] * 3;
    const capped = await searchVector(handle, q, { k: 10, nprobe: 20, maxShardBytes: budget });
    expect(capped.stats.shards).toBeGreaterThanOrEqual(1);
    expect(capped.stats.shards).toBeLessThan(20);
    // The cut keeps the nearest leaves: same answer and bytes as asking for that many probes.
    const same = await searchVector(handle, q, { k: 10, nprobe: capped.stats.shards });
    expect(capped.stats.bytes).toBe(same.stats.bytes);
    expect(capped.results.map((r) => r.id)).toEqual(same.results.map((r) => r.id));
    // Those shards fit the budget, and one more would not have.
    const order = nearestLeaves(handle.routing, q, 20, ix.built.params.scanLeaves);
    const bytesOf = (n: number) => order.slice(0, n).reduce((a, l) => a + ix.built.shards[l].ref.bytes, 0);
    expect(bytesOf(capped.stats.shards)).toBeLessThanOrEqual(budget);
    expect(bytesOf(capped.stats.shards + 1)).toBeGreaterThan(budget);
    // The first shard is always read, however small the budget.
    const tiny = await searchVector(handle, q, { k: 10, nprobe: 20, maxShardBytes: 1 });
    expect(tiny.stats.shards).toBe(1);
    expect(tiny.results.length).toBeGreaterThan(0);
  });
});
