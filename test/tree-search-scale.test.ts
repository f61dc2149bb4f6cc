// A 100k-vector synthetic set (clustered, 128-d), built once by
// scripts/builder/build-index.ts, for two checks at a scale no unit test has:
//  - tree search (the Worker's code, lib/index/reader.ts) against brute force;
//  - the build's self-check predicts the recall of queries it never saw (issue
//    21): the nprobe it picks from its held-out-item proxies (check/perturb.ts)
//    gives fresh queries from the set's generator a recall within 0.02 of the
//    prediction. The proxies come from the corpus by their own rule and seed;
//    the fresh queries are rows the index never held.
//  - filtered search against exact filtered search on a skewed column (one
//    value holds half the items, the rest a long tail): each of the three
//    plans (value-order scan, nearest cells, leaf probe) may serve a filter;
//    scan and probe each serve some, and every filter reaches recall@10 ≥ 0.95,
//    every result inside it.
// A 100k build is not a unit test: this file runs with the integration tests
// (test/build-tree-search.test.ts covers the tree on 2,000 items in test:unit).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../lib/index/manifest.ts";
import { buildIndex, DEFAULT_PARAMS, type BuiltIndex } from "../scripts/builder/build-index.ts";
import { openIndex, searchVector } from "../lib/index/reader.ts";
import { MemorySource } from "../scripts/artifacts/memory-source.ts";
import { ComputePool } from "../scripts/builder/pools/compute-pool.ts";
import { proxyQueries, wordSubset } from "../scripts/builder/check/perturb.ts";
import { exactTopK, exactTopKOf, exactTruth, cellCoverage, measureRecall, proxyTruth, selfCheck, CAP_STEP, RERANK_STEP, QUERY_BYTES } from "../scripts/builder/check/self-check.ts";
import { DEFAULT_TARGET_RECALL } from "../scripts/builder/build.ts";
import { rng } from "../scripts/builder/training/kernels.ts";
import { clusteredVectors, madeUpItems } from "./helpers/build-fixtures.ts";
import { compileFilter } from "../lib/filter/compile.ts";
import { CELLS_MIN_COVERAGE, FILTER_ROUND1_BYTES, predictedCoverage } from "../lib/index/filtered-search.ts";
import { COVERAGE_DEPTH } from "../lib/index/cells.ts";
import { chunkStoredLength } from "../lib/index/format.ts";
import type { FilterField } from "../lib/filter/values.ts";

/** Row i's day: 0 for half the rows, the rest a long tail over days 1–364 (day d about twice as common as day 2d). */
function dayOf(i: number): number {
  const r = rng(i + 1)();
  if (r < 0.5) return 0;
  return Math.min(364, Math.max(1, Math.floor(Math.exp(((r - 0.5) / 0.5) * Math.log(365)))));
}
const DAY: FilterField[] = [{ name: "day", type: "number" }];

const BIG = 100_000;
const D = 128;
const PROXIES = 200;
const HELD_OUT = 300;
const TREE_QUERIES = 200;

describe("100k synthetic clustered vectors: tree search vs brute force, and the self-check's prediction", () => {
  let rows: Float32Array;
  let heldOut: Float32Array[];
  let built: BuiltIndex;
  let manifest: Manifest;
  let pool: ComputePool;
  const items = madeUpItems(BIG).map((it, i) => ({ ...it, meta: { day: dayOf(i) } }));
  const ids = items.map((i) => i.id);

  beforeAll(async () => {
    const { vectors } = clusteredVectors(BIG + HELD_OUT, D, 2000, 12, 11);
    rows = vectors.slice(0, BIG * D);
    heldOut = Array.from({ length: HELD_OUT }, (_, i) => vectors.slice((BIG + i) * D, (BIG + i + 1) * D));
    built = await buildIndex(rows, D, items, { pqM: 32, threads: 2, opqRounds: 2, pqSample: 8192, filterFields: DAY });
    manifest = { dim: D, items: BIG, params: { ...built.params, maxShardBytes: undefined }, routing: built.routing.map((p) => p.ref), catalog: built.catalog.map((p) => p.ref) } as unknown as Manifest;
    pool = new ComputePool(rows, D, 2);
    // The index build takes most of this; a loaded machine (CPU shared with builds) stretches it.
  }, 600_000);
  afterAll(async () => {
    await pool?.close();
  });

  it("tree search reaches recall@10 ≥ 0.95 in 2 KV rounds at nprobe 96, with every group and leaf level in use", async () => {
    expect(built.params.groups).toBeGreaterThan(40);
    expect(built.params.leaves).toBeGreaterThan((BIG / DEFAULT_PARAMS.leafSize) * 0.8);
    const h = await openIndex({ ...manifest, params: { ...manifest.params, nprobe: 96 } }, MemorySource.fromBuilt(built));
    let hits = 0;
    for (const q of heldOut.slice(0, TREE_QUERIES)) {
      const truth = new Set(exactTopK(rows, D, BIG, q, 10).map((i) => ids[i]));
      const { results, stats } = await searchVector(h, q, { k: 10 });
      expect(stats.roundTrips).toBe(2);
      for (const r of results) if (truth.has(r.id)) hits++;
    }
    expect(hits / (TREE_QUERIES * 10)).toBeGreaterThanOrEqual(0.95);
  });

  it(`picks nprobe for the target ${DEFAULT_TARGET_RECALL} on held-out items, and fresh queries then reach the predicted recall ± 0.02`, async () => {
    const proxies = proxyQueries(items.map((i) => i.text), PROXIES, ["held-out"]);
    expect(proxies).toHaveLength(PROXIES);
    const queries = proxies.map((p) => rows.slice(p.row * D, (p.row + 1) * D));
    const exclude = proxies.map((p) => p.row);
    const truth = await proxyTruth(pool, queries, exclude, 10);
    // A held-out item is never its own answer.
    truth.forEach((t, i) => expect(t).not.toContain(exclude[i]));
    const source = MemorySource.fromBuilt(built);
    const { nprobe, maxShardBytes, check } = await selfCheck({ manifest, source, ids, queries, truth, kinds: proxies.map((p) => p.kind), exclude }, { targetRecall: DEFAULT_TARGET_RECALL, byteBudget: Infinity });
    expect(check.byKind?.["held-out"]?.queries).toBe(PROXIES);
    expect(check.recallAt10).toBeGreaterThanOrEqual(DEFAULT_TARGET_RECALL);
    // The ladder climbed: the first rung alone would have missed the target.
    expect(check.curve.length).toBeGreaterThan(1);
    expect(check.curve[0].recallAt10).toBeLessThan(DEFAULT_TARGET_RECALL);

    const heldTruth = await exactTruth(pool, heldOut, 10);
    const held = await measureRecall({ manifest, source, ids, queries: heldOut, truth: heldTruth, kinds: heldOut.map(() => "fresh") }, nprobe, built.params.rerank, maxShardBytes);
    process.stderr.write(`[tree-search-scale] nprobe ${nprobe}: predicted ${check.recallAt10.toFixed(4)}, held-out ${held.recallAt10.toFixed(4)}\n`);
    expect(Math.abs(check.recallAt10 - held.recallAt10)).toBeLessThanOrEqual(0.02);
    // One rung lower, the prediction still follows held-out recall: it tracks the curve, not one point.
    const lower = check.curve[check.curve.length - 2];
    const heldLower = await measureRecall({ manifest, source, ids, queries: heldOut, truth: heldTruth }, lower.nprobe, built.params.rerank);
    expect(Math.abs(lower.recallAt10 - heldLower.recallAt10)).toBeLessThanOrEqual(0.02);
  });

  it("where the cap binds below the target it raises the cap by CAP_STEP or the re-rank by RERANK_STEP, whichever buys more per byte, within budget; given ones stay", async () => {
    const proxies = proxyQueries(items.map((i) => i.text), 100, ["held-out"]);
    const queries = proxies.map((p) => rows.slice(p.row * D, (p.row + 1) * D));
    const exclude = proxies.map((p) => p.row);
    const truth = await proxyTruth(pool, queries, exclude, 10);
    const first = 8 * 1024;
    const budget = 96 * 1024;
    // A shallow re-rank as well, so that both levers bind at first.
    const rerank = 10;
    const capped = { ...manifest, params: { ...manifest.params, maxShardBytes: first, rerank } } as Manifest;
    const input = { manifest: capped, source: MemorySource.fromBuilt(built), ids, queries, truth, kinds: proxies.map((p) => p.kind), exclude };
    const fixed = await selfCheck(input, { targetRecall: DEFAULT_TARGET_RECALL, byteBudget: budget, fixedCap: true, fixedRerank: true });
    expect([fixed.maxShardBytes, fixed.rerank]).toEqual([first, rerank]);
    expect(new Set(fixed.check.curve.map((c) => `${c.maxShardBytes}/${c.rerank}`))).toEqual(new Set([`${first}/${rerank}`]));
    expect(fixed.check.recallAt10).toBeLessThan(DEFAULT_TARGET_RECALL);
    // Only the cap free: it steps by exactly CAP_STEP.
    const caps = await selfCheck(input, { targetRecall: DEFAULT_TARGET_RECALL, byteBudget: budget, fixedRerank: true });
    const capSteps = [...new Set(caps.check.curve.map((c) => c.maxShardBytes!))];
    expect(capSteps.length).toBeGreaterThan(1);
    capSteps.reduce((prev, c) => (expect(c).toBe(Math.round(prev * CAP_STEP)), c));
    expect(caps.rerank).toBe(rerank);
    expect(caps.check.recallAt10).toBeGreaterThan(fixed.check.recallAt10);
    expect(caps.check.meanBytes).toBeLessThanOrEqual(budget);
    // Only the re-rank free: it steps by exactly RERANK_STEP, and the cap stays.
    const deeper = await selfCheck(input, { targetRecall: DEFAULT_TARGET_RECALL, byteBudget: budget, fixedCap: true });
    const rerankSteps = [...new Set(deeper.check.curve.map((c) => c.rerank))];
    expect(rerankSteps.length).toBeGreaterThan(1);
    rerankSteps.reduce((prev, c) => (expect(c).toBe(Math.round(prev * RERANK_STEP)), c));
    expect(deeper.maxShardBytes).toBe(first);
    expect(deeper.check.recallAt10).toBeGreaterThan(fixed.check.recallAt10);
    // Both free: each raise moves one of the two by its step, and the result is at least the better single lever's.
    const both = await selfCheck(input, { targetRecall: DEFAULT_TARGET_RECALL, byteBudget: budget });
    both.check.curve.reduce((prev, c) => {
      const capUp = c.maxShardBytes === Math.round(prev.maxShardBytes! * CAP_STEP) && c.rerank === prev.rerank;
      const rerankUp = c.rerank === Math.round(prev.rerank * RERANK_STEP) && c.maxShardBytes === prev.maxShardBytes;
      const same = c.rerank === prev.rerank && c.maxShardBytes === prev.maxShardBytes;
      expect(capUp || rerankUp || same, JSON.stringify([prev, c])).toBe(true);
      return c;
    });
    expect(both.check.recallAt10).toBeGreaterThan(fixed.check.recallAt10);
    expect(both.check.meanBytes).toBeLessThanOrEqual(budget);
    // A record budget that leaves no room for one more re-ranked record keeps the depth.
    const tight = await selfCheck(input, { targetRecall: DEFAULT_TARGET_RECALL, byteBudget: budget, fixedCap: true, meanRecordBytes: QUERY_BYTES });
    expect(tight.rerank).toBe(rerank);
  });

  it("filters of every selectivity on a skewed column: scan and probe each serve some, each filter ≥ 0.95 against exact filtered search", async () => {
    const filtered = { ...manifest, params: { ...manifest.params, nprobe: 96 }, filters: { fields: DAY, table: built.filters!.table.map((p) => p.ref) } } as Manifest;
    // The build's measure of how near the cells hold neighbours, from its own held-out proxies (as build.ts does).
    const proxies = proxyQueries(items.map((i) => i.text), PROXIES, ["held-out"]);
    const proxyVectors = proxies.map((p) => rows.slice(p.row * D, (p.row + 1) * D));
    const deep = await proxyTruth(pool, proxyVectors, proxies.map((p) => p.row), COVERAGE_DEPTH);
    filtered.filters!.cellCoverage = await cellCoverage(filtered, MemorySource.fromBuilt(built), proxyVectors, deep, built.filters!.cellOf);
    process.stderr.write(`[tree-search-scale] cell coverage ${JSON.stringify(filtered.filters!.cellCoverage)}\n`);
    const h = await openIndex(filtered, MemorySource.fromBuilt(built));
    const days = items.map((it) => it.meta.day as number);
    const cases: Array<{ name: string; filter: unknown; accepts: (d: number) => boolean; filterBytes?: number }> = [
      { name: "days 200–364 (tail)", filter: { day: { $gte: 200 } }, accepts: (d: number) => d >= 200 },
      { name: "days 20–60", filter: { day: { $gte: 20, $lte: 60 } }, accepts: (d: number) => d >= 20 && d <= 60 },
      { name: "$or of two tail ranges", filter: { $or: [{ day: { $gte: 5, $lt: 10 } }, { day: { $gte: 100, $lt: 200 } }] }, accepts: (d: number) => (d >= 5 && d < 10) || (d >= 100 && d < 200) },
      { name: "day 0 (half the items)", filter: { day: 0 }, accepts: (d: number) => d === 0 },
      { name: "every day", filter: { day: { $gte: 0 } }, accepts: () => true },
    ];
    const plans = new Set<string>();
    for (const c of cases) {
      const compiled = compileFilter(c.filter, { fields: DAY })!;
      const matchRows = days.flatMap((d, i) => (c.accepts(d) ? [i] : []));
      let hits = 0;
      const used = new Set<string>();
      for (const q of heldOut.slice(0, 100)) {
        const truth = new Set(exactTopKOf(rows, D, matchRows, q, 10).map((i) => ids[i]));
        const { results, stats } = await searchVector(h, q, { k: 10, filter: compiled, filterBytes: c.filterBytes });
        expect(results).toHaveLength(10);
        for (const r of results) expect(c.accepts(days[Number(r.id.slice(5))]), `${c.name}: ${r.id}`).toBe(true);
        expect(stats.roundTrips).toBe(2);
        expect(stats.bytes).toBeLessThanOrEqual((c.filterBytes ?? FILTER_ROUND1_BYTES) + 200_000);
        used.add(stats.filter!.plan);
        hits += results.filter((r) => truth.has(r.id)).length;
      }
      process.stderr.write(`[tree-search-scale] ${c.name} (${((100 * matchRows.length) / BIG).toFixed(1)}%): ${[...used].join("+")}, recall@10 ${(hits / 1000).toFixed(3)}\n`);
      expect(hits / 1000, c.name).toBeGreaterThanOrEqual(0.95);
      for (const p of used) plans.add(p);
    }
    // Whether the cells serve a filter follows the coverage printed above; scan and probe always have their share.
    expect(plans).toContain("scan");
    expect(plans).toContain("probe");
  });
});

describe("query proxies (check/perturb.ts)", () => {
  it("builds word-subset proxies by its documented rule: half the words, content words first, in order, seeded", () => {
    const text = "troops reach the outskirts of baghdad after heavy fighting";
    const a = wordSubset(text, rng(5));
    expect(a).toBe(wordSubset(text, rng(5)));
    const words = a.split(" ");
    expect(words).toHaveLength(5);
    for (const w of words) expect(["the", "of", "after"]).not.toContain(w);
    const order = words.map((w) => text.split(" ").indexOf(w));
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    // Each kind draws its own rows; a text under three words makes no word subset.
    const texts = ["one", "two words", ...Array.from({ length: 50 }, (_, i) => `headline number ${i} about rain`)];
    const proxies = proxyQueries(texts, 61);
    expect(proxies.filter((p) => p.kind === "words").every((p) => p.row >= 2)).toBe(true);
    expect(proxies).toHaveLength(61);
    for (const [kind, n] of [["perturbed", 21], ["words", 20], ["held-out", 20]] as const) expect(new Set(proxies.filter((p) => p.kind === kind).map((p) => p.row)).size).toBe(n);
    expect(proxies.filter((p) => p.kind === "held-out").every((p) => p.text === undefined)).toBe(true);
  });
});

describe("the nearest cells' plan on vectors whose cells hold their neighbours (40 tight clusters, 40k items)", () => {
  const N = 40_000;
  const DIM = 64;
  const dayOfRow = (i: number) => Math.floor(rng(i + 7)() * 100);
  const items = madeUpItems(N).map((it, i) => ({ ...it, meta: { day: dayOfRow(i) } }));
  const ids = items.map((i) => i.id);
  let rows: Float32Array;
  let queries: Float32Array[];
  let h: Awaited<ReturnType<typeof openIndex>>;
  let coverage: Array<[number, number]>;

  beforeAll(async () => {
    const { vectors } = clusteredVectors(N + 100, DIM, 40, 21);
    rows = vectors.slice(0, N * DIM);
    queries = Array.from({ length: 100 }, (_, i) => vectors.slice((N + i) * DIM, (N + i + 1) * DIM));
    const built = await buildIndex(rows, DIM, items, { pqM: 32, threads: 2, opqRounds: 0, pqSample: 8192, filterFields: DAY });
    const manifest = {
      dim: DIM,
      items: N,
      params: { ...built.params, nprobe: 32, maxShardBytes: undefined },
      routing: built.routing.map((p) => p.ref),
      catalog: built.catalog.map((p) => p.ref),
      filters: { fields: DAY, table: built.filters!.table.map((p) => p.ref) },
    } as unknown as Manifest;
    const pool = new ComputePool(rows, DIM, 2);
    try {
      const proxies = proxyQueries(items.map((i) => i.text), PROXIES, ["held-out"]);
      const vs = proxies.map((p) => rows.slice(p.row * DIM, (p.row + 1) * DIM));
      const deep = await proxyTruth(pool, vs, proxies.map((p) => p.row), COVERAGE_DEPTH);
      coverage = await cellCoverage(manifest, MemorySource.fromBuilt(built), vs, deep, built.filters!.cellOf);
    } finally {
      await pool.close();
    }
    manifest.filters!.cellCoverage = coverage;
    h = await openIndex(manifest, MemorySource.fromBuilt(built));
  }, 600_000);

  it("a filter too broad to scan reads the nearest cells' chunks, in either order: mostly or only matches, recall@10 ≥ 0.95, ≤ 1 MB, 2 rounds", async () => {
    process.stderr.write(`[tree-search-scale] tight clusters: cell coverage ${JSON.stringify(coverage)}\n`);
    expect(predictedCoverage(coverage, 1 / 8)).toBeGreaterThanOrEqual(CELLS_MIN_COVERAGE);
    const days = items.map((it) => it.meta.day as number);
    for (const top of [40, 80]) {
      const plans: Record<string, number> = {};
      const compiled = compileFilter({ day: { $lt: top } }, { fields: DAY })!;
      const matchRows = days.flatMap((d, i) => (d < top ? [i] : []));
      let hits = 0;
      for (const q of queries) {
        const truth = new Set(exactTopKOf(rows, DIM, matchRows, q, 10).map((i) => ids[i]));
        const { results, stats } = await searchVector(h, q, { k: 10, filter: compiled });
        // Both chunk orders reach nearly all of the near matches here: the larger prediction wins.
        expect(["cells", "values"]).toContain(stats.filter!.plan);
        plans[stats.filter!.plan] = (plans[stats.filter!.plan] ?? 0) + 1;
        // Cell-order chunks are in value order: the chunks read meet the range, so most of their entries match;
        // value-order chunks of the range hold only matches but at its ends.
        expect(stats.filter!.matched / stats.filter!.scored).toBeGreaterThan(stats.filter!.plan === "cells" ? 0.5 : 0.9);
        expect(results).toHaveLength(10);
        for (const r of results) expect(days[Number(r.id.slice(5))]).toBeLessThan(top);
        expect(stats.roundTrips).toBe(2);
        expect(stats.bytes).toBeLessThanOrEqual(1_000_000);
        hits += results.filter((r) => truth.has(r.id)).length;
      }
      process.stderr.write(`[tree-search-scale] tight clusters, days < ${top}: ${JSON.stringify(plans)}, recall@10 ${(hits / 1000).toFixed(3)}\n`);
      expect(hits / 1000).toBeGreaterThanOrEqual(0.95);
    }
  });

  it("an $in of scattered days a little too big to scan reads the nearest cells' chunks, never leaves: value-order chunks hold matches but at each day's ends, recall@10 ≥ 0.95", async () => {
    const days = items.map((it) => it.meta.day as number);
    const chosen = [3, 17, 38, 52, 71, 96];
    const compiled = compileFilter({ day: { $in: chosen } }, { fields: DAY })!;
    const matchRows = days.flatMap((d, i) => (chosen.includes(d) ? [i] : []));
    // Round 1 gets two thirds of what a scan of the six days would read.
    const filterBytes = Math.floor((matchRows.length * chunkStoredLength(1, 128, 32)) / 128 / 1.5);
    let hits = 0;
    const plans: Record<string, number> = {};
    for (const q of queries) {
      const truth = new Set(exactTopKOf(rows, DIM, matchRows, q, 10).map((i) => ids[i]));
      const { results, stats } = await searchVector(h, q, { k: 10, filter: compiled, filterBytes });
      expect(["cells", "values"]).toContain(stats.filter!.plan);
      plans[stats.filter!.plan] = (plans[stats.filter!.plan] ?? 0) + 1;
      // Value-order chunks of a matching day hold only matches but at the day's ends, and the budget reads some of them.
      if (stats.filter!.plan === "values") expect(stats.filter!.matched / stats.filter!.scored).toBeGreaterThan(0.9);
      expect(stats.filter!.matched).toBeLessThan(matchRows.length);
      expect(results).toHaveLength(10);
      for (const r of results) expect(chosen).toContain(days[Number(r.id.slice(5))]);
      expect(stats.roundTrips).toBe(2);
      hits += results.filter((r) => truth.has(r.id)).length;
    }
    process.stderr.write(`[tree-search-scale] tight clusters, $in of 6 days (${((100 * matchRows.length) / N).toFixed(1)}%), ${filterBytes} B: ${JSON.stringify(plans)}, recall@10 ${(hits / 1000).toFixed(3)}\n`);
    expect(hits / 1000).toBeGreaterThanOrEqual(0.95);
  });
});
