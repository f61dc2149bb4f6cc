// Metadata filters over a real build, in Node with the Worker's own search code:
// the fixture's 2,000 headlines with their dates and a synthetic "desk" column
// of skewed frequencies (50 / 30 / 15 / 4 / 1 %). Every result must pass its
// filter (checked by a reference written here over the raw metadata, not by
// lib/filter), recall against exact filtered search must hold at each
// selectivity, a filter matching fewer than k items returns all of them, and
// filters must not touch what unfiltered queries read.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBuild } from "../scripts/builder/build.ts";
import { createNodeEmbedder } from "../scripts/builder/embedding/node-model.ts";
import { ArtifactSearch } from "../scripts/artifacts/node-search.ts";
import { readManifest, readVectors } from "../scripts/artifacts/dir.ts";
import { readFilterTable, readRouting, filterValueRefs, shardRefs } from "../lib/index/version.ts";
import { chunkHoldsOneValue, chunkKey, decodeColumnChunk, itemKey } from "../lib/index/format.ts";
import { fromBase64 } from "../lib/index/base64.ts";
import { blobPath, blobReader, FileSource } from "../scripts/artifacts/dir.ts";
import { UsageError } from "../scripts/common/cli.ts";
import { openIndex, searchVector } from "../lib/index/reader.ts";
import { FILTER_MAX_SCALE, FILTER_QUERY_BYTES, FILTER_RERANK, filterQueryBytes, filterScale } from "../lib/index/filtered-search.ts";
import { evaluationQueries, fixtureJsonlLines } from "./helpers/index-fixture.ts";
import { DEFAULT_CACHE } from "../scripts/common/paths.ts";

type Meta = Record<string, string | number | boolean | null>;

/** Item i's own float32 vector (vectors.f32 of the build): the query whose nearest item is i. */
async function itemVector(engine: ArtifactSearch, i: number): Promise<Float32Array> {
  const v = await readVectors(engine.dir, engine.manifest.dim);
  return v.slice(i * engine.manifest.dim, (i + 1) * engine.manifest.dim);
}

/** The desk of row i: a fixed, skewed split so filters of known selectivity exist. */
function deskOf(i: number): string {
  const r = (i * 37) % 100;
  if (r < 1) return "obituaries";
  if (r < 5) return "rural";
  if (r < 20) return "business";
  if (r < 50) return "world";
  return "local";
}

interface Case {
  name: string;
  filter: unknown;
  /** The reference: written over raw metadata, independent of lib/filter. */
  accepts: (m: Meta) => boolean;
}

const date = (m: Meta) => String(m.publish_date);
const CASES: Case[] = [
  { name: "all dates", filter: { publish_date: { $gte: "2003-01-01" } }, accepts: () => true },
  { name: "3 months", filter: { publish_date: { $gte: "2003-03-01", $lt: "2003-06-01" } }, accepts: (m) => date(m) >= "20030301" && date(m) < "20030601" },
  { name: "1 month", filter: { publish_date: { $gte: "20030401", $lte: "2003-04-30" } }, accepts: (m) => date(m) >= "20030401" && date(m) <= "20030430" },
  { name: "1 week", filter: { publish_date: { $gt: "2003-02-28T23:59:59Z", $lt: "2003-03-08" } }, accepts: (m) => date(m) >= "20030301" && date(m) < "20030308" },
  { name: "1 day (fewer than k)", filter: { publish_date: "2003-03-01" }, accepts: (m) => date(m) === "20030301" },
  { name: "$in of three days", filter: { publish_date: { $in: ["2003-03-03", "2003-04-14", "2003-07-21"] } }, accepts: (m) => ["20030303", "20030414", "20030721"].includes(date(m)) },
  {
    name: "$or of two ranges",
    filter: { $or: [{ publish_date: { $lt: "2003-03-01" } }, { publish_date: { $gte: "2003-10-01" } }] },
    accepts: (m) => date(m) < "20030301" || date(m) >= "20031001",
  },
  { name: "rare desk (1%)", filter: { desk: "obituaries" }, accepts: (m) => m.desk === "obituaries" },
  { name: "desk $in", filter: { desk: { $in: ["rural", "business"] } }, accepts: (m) => m.desk === "rural" || m.desk === "business" },
  { name: "desk $ne", filter: { desk: { $ne: "local" } }, accepts: (m) => m.desk !== "local" },
  { name: "desk $nin", filter: { desk: { $nin: ["local", "world"] } }, accepts: (m) => m.desk !== "local" && m.desk !== "world" },
  {
    name: "date and desk",
    filter: { publish_date: { $gte: "2003-05-01" }, desk: "world" },
    accepts: (m) => date(m) >= "20030501" && m.desk === "world",
  },
];

describe("metadata filters over a real build", () => {
  let work: string;
  let engine: ArtifactSearch;
  let queries: Float32Array[];
  let metas: Meta[];
  let base: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "ess-filters-"));
    const lines = await fixtureJsonlLines((i) => ({ desk: deskOf(i) }));
    await writeFile(path.join(work, "corpus.jsonl"), lines.join("\n") + "\n");
    base = path.join(work, "a");
    await runBuild({ corpus: path.join(work, "corpus.jsonl"), out: base, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, checkQueries: 50 });
    engine = await ArtifactSearch.open(base);
    metas = lines.map((l) => {
      const { id: _id, text: _t, ...meta } = JSON.parse(l) as Meta;
      return meta;
    });
    const embedder = await createNodeEmbedder();
    const texts = lines.map((l) => (JSON.parse(l) as { text: string }).text);
    queries = await embedder.embed(evaluationQueries(texts));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("makes the date column and the low-cardinality column filterable by default, typed", () => {
    expect(engine.fields).toEqual([
      { name: "publish_date", type: "date" },
      { name: "desk", type: "string", values: ["business", "local", "obituaries", "rural", "world"] },
    ]);
  });

  for (const c of CASES) {
    it(`${c.name}: every result passes, recall@10 ≥ 0.95 against exact filtered search, ≤ 2 rounds, ≤ 1 MB`, async () => {
      const matching = metas.filter(c.accepts).length;
      expect(matching, "the case must match something").toBeGreaterThan(0);
      const filter = engine.compile(JSON.stringify(c.filter));
      let found = 0;
      let expected = 0;
      for (const q of queries) {
        const exact = await engine.exact(q, 10, filter);
        const approx = await engine.approximate(q, 10, { filter });
        // The exact search and the reference agree on what matches…
        expect(exact.results).toHaveLength(Math.min(10, matching));
        for (const r of [...exact.results, ...approx.results]) expect(c.accepts(r.meta), `${r.id} ${JSON.stringify(r.meta)}`).toBe(true);
        // …and the approximate one never returns fewer than it could.
        expect(approx.results).toHaveLength(Math.min(10, matching));
        expect(approx.stats.roundTrips).toBeLessThanOrEqual(2);
        expect(approx.stats.bytes).toBeLessThanOrEqual(1_000_000);
        const truth = new Set(exact.results.map((r) => r.id));
        found += approx.results.filter((r) => truth.has(r.id)).length;
        expected += truth.size;
      }
      expect(found / expected, c.name).toBeGreaterThanOrEqual(0.95);
    });
  }

  it("a filter matching fewer than k items returns all of them, ranked, from a scan of its chunks", async () => {
    const filter = engine.compile(JSON.stringify({ publish_date: "2003-03-01" }));
    const { results, stats } = await engine.approximate(queries[0], 100, { filter });
    const ids = metas.map((m, i) => (date(m) === "20030301" ? `h${i}` : null)).filter((x) => x !== null);
    expect(ids.length).toBe(7);
    expect(results.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (let i = 1; i < results.length; i++) expect(results[i - 1].score).toBeGreaterThanOrEqual(results[i].score);
    expect(stats).toMatchObject({ roundTrips: 2, filter: { plan: "scan", matched: 7 } });
  });

  it("a filtered query re-ranks up to FILTER_RERANK records where the build re-ranks fewer, scaled with a deeper build's up to FILTER_MAX_SCALE; an explicit rerank is kept", async () => {
    const manifest = await readManifest(base);
    expect(manifest.params.rerank).toBeLessThan(FILTER_RERANK);
    const h = await openIndex(manifest, await FileSource.open(base), null);
    const filter = engine.compile(JSON.stringify({ publish_date: { $gte: "2003-01-01" } }));
    // A margin wide enough that the depth is the cap: every candidate lies within it.
    const wide = { k: 10, rerankMargin: 100 };
    const filtered = await searchVector(h, queries[0], { ...wide, filter });
    expect(filtered.stats.filter).toMatchObject({ plan: "scan", matched: manifest.items });
    expect(filtered.stats.records).toBe(FILTER_RERANK);
    const unfiltered = await searchVector(h, queries[0], wide);
    expect(unfiltered.stats.records).toBe(manifest.params.rerank);
    const explicit = await searchVector(h, queries[0], { ...wide, filter, rerank: 50 });
    expect(explicit.stats.records).toBe(50);
    // A build whose re-rank is deeper (the self-check deepens it at scale) scales the filtered depth, round 1 and
    // the query's byte cap by its ratio to FILTER_RERANK, up to FILTER_MAX_SCALE.
    expect(manifest.items).toBeGreaterThan(FILTER_RERANK * FILTER_MAX_SCALE);
    for (const [rerank, records] of [[1.5 * FILTER_RERANK, 1.5 * FILTER_RERANK], [4 * FILTER_RERANK, FILTER_MAX_SCALE * FILTER_RERANK]]) {
      const deep = await openIndex({ ...manifest, params: { ...manifest.params, rerank } }, await FileSource.open(base), null);
      expect(filterScale(deep.manifest.params)).toBe(records / FILTER_RERANK);
      expect(filterQueryBytes(deep.manifest.params)).toBe(Math.round((FILTER_QUERY_BYTES * records) / FILTER_RERANK));
      const answer = await searchVector(deep, queries[0], { ...wide, filter });
      expect(answer.stats.records).toBe(records);
      expect(answer.stats.bytes).toBeLessThanOrEqual(filterQueryBytes(deep.manifest.params));
    }
    // The deeper re-rank finds the same top 10 the exact search does here, from the same candidates.
    const exact = await engine.exact(queries[0], 10, filter);
    expect(filtered.results.map((r) => r.id).sort()).toEqual(exact.results.map((r) => r.id).sort());
  });

  it("plans: chunks are scanned while they fit the budget, leaves probed when some item has no value to list", async () => {
    const plan = async (f: unknown, m = engine) => (await m.approximate(queries[0], 10, { filter: m.compile(JSON.stringify(f)) })).stats.filter?.plan;
    // 2,000 items: a whole column's chunks fit the round-1 budget, so even "every date" is scanned exactly.
    expect(await plan({ publish_date: { $gte: "2003-01-01" } })).toBe("scan");
    // Every item has a desk, so $ne's matches are listed by the other desks' chunks.
    expect(await plan({ desk: { $ne: "local" } })).toBe("scan");
    // An item without a desk matches $ne but is in no chunk: only probing can find it.
    const lines = (await readFile(path.join(work, "corpus.jsonl"), "utf8")).trim().split("\n");
    lines[3] = JSON.stringify({ ...(JSON.parse(lines[3]) as Meta), desk: null });
    await writeFile(path.join(work, "gap.jsonl"), lines.join("\n") + "\n");
    const gap = path.join(work, "gap");
    await runBuild({ corpus: path.join(work, "gap.jsonl"), out: gap, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, checkQueries: 20, base });
    const gapEngine = await ArtifactSearch.open(gap);
    expect(await plan({ desk: { $ne: "local" } }, gapEngine)).toBe("probe");
    expect(await plan({ desk: "local" }, gapEngine)).toBe("scan");
    const { results } = await gapEngine.approximate(await itemVector(gapEngine, 3), 1, { filter: gapEngine.compile(JSON.stringify({ desk: { $ne: "local" } })) });
    expect(results.map((r) => r.id)).toEqual(["h3"]);
    // A probing filter also probes past its leaves the ones that score within the probe margin of the best.
    const ne = gapEngine.compile(JSON.stringify({ desk: { $ne: "local" } }));
    const probed = async (probeMargin: number) => (await gapEngine.approximate(queries[0], 10, { filter: ne, nprobe: 2, probeMargin })).stats;
    const [none, wide] = [await probed(0), await probed(2)];
    expect(none.filter?.plan).toBe("probe");
    expect(wide.shards).toBeGreaterThan(none.shards);
    expect(wide.roundTrips).toBe(2);
  });

  it("value-order chunks list each value's items in cell order, with each chunk's first cell and one-value bit exact", async () => {
    const m = await readManifest(base);
    const read = blobReader(base);
    const t = (await readFilterTable(m, read))!;
    const texts = await read(Array.from({ length: t.chunks }, (_, c) => chunkKey(t, c)));
    const chunk = (c: number) => decodeColumnChunk(fromBase64(texts.get(chunkKey(t, c))!));
    for (let column = 0; column < t.columns; column++) {
      // Each item's cell, from the cell-order chunks that list it.
      const cellOf = new Map<string, number>();
      for (let cell = 0; cell < t.cells; cell++) {
        for (let c = t.cellChunkStart[column * t.cells + cell]; c < t.cellChunkStart[column * t.cells + cell + 1]; c++) {
          const k = chunk(c);
          for (let e = 0; e < k.count; e++) cellOf.set(itemKey(k.keys, e), cell);
        }
      }
      const entries: Array<{ value: number; cell: number; chunk: number }> = [];
      for (let v = t.chunkStart[column]; v < t.chunkStart[column + 1]; v++) {
        const k = chunk(v);
        for (let e = 0; e < k.count; e++) entries.push({ value: k.values[column * k.count + e], cell: cellOf.get(itemKey(k.keys, e))!, chunk: v });
      }
      expect(entries.length).toBe(cellOf.size);
      let oneValue = 0;
      entries.forEach((x, i) => {
        const prev = entries[i - 1];
        if (prev) expect(prev.value < x.value || (prev.value === x.value && prev.cell <= x.cell), `entry ${i} of column ${column}`).toBe(true);
        if (!prev || prev.chunk !== x.chunk) {
          expect(t.chunkCell[x.chunk]).toBe(x.cell);
          const end = entries.findIndex((y) => y.chunk > x.chunk);
          const upTo = end < 0 ? entries.length - 1 : end;
          const one = entries.slice(i, upTo + 1).every((y) => y.value === x.value);
          expect(chunkHoldsOneValue(t, x.chunk), `chunk ${x.chunk}`).toBe(one);
          if (one) oneValue++;
        }
      });
      // The dates' chunks span days; the desks' mostly hold one desk.
      if (engine.fields[column].name === "desk") expect(oneValue).toBeGreaterThan(0);
    }
  });

  it("a filter nothing can match answers empty without reading KV", async () => {
    const { results, stats } = await engine.approximate(queries[0], 10, { filter: engine.compile(JSON.stringify({ desk: { $in: [] } })) });
    expect(results).toEqual([]);
    expect(stats.roundTrips).toBe(0);
  });

  it("a base passed with --extend that cannot be read is refused, not partitioned anew", async () => {
    const broken = path.join(work, "broken-base");
    await cp(base, broken, { recursive: true });
    const [first] = shardRefs(await readRouting(await readManifest(broken), blobReader(broken)));
    await rm(blobPath(broken, first.key));
    const out = path.join(work, "over-broken");
    const build = runBuild({ corpus: path.join(work, "corpus.jsonl"), out, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, checkQueries: 50, base: broken });
    await expect(build).rejects.toThrow(UsageError);
    await expect(build).rejects.toThrow(`--extend ${broken}: its index cannot be read (base index in ${broken} lacks ${first.key})`);
  });

  it("unfiltered queries read exactly what they read without filters; a metadata-only change keeps unchanged values", async () => {
    // The same corpus without filterable columns, extending the first build so the tree is the same.
    const plain = path.join(work, "plain");
    // The same self-check as the first build, so that both pick the same nprobe.
    await runBuild({ corpus: path.join(work, "corpus.jsonl"), out: plain, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, checkQueries: 50, base, filterable: { kind: "none" } });
    const withFilters = await readManifest(base);
    const without = await readManifest(plain);
    expect(without.filters).toBeUndefined();
    const shardKeys = async (dir: string) => shardRefs(await readRouting(await readManifest(dir), blobReader(dir))).map((r) => r.key);
    expect(await shardKeys(plain)).toEqual(await shardKeys(base));
    const plainEngine = await ArtifactSearch.open(plain);
    for (const q of queries.slice(0, 10)) {
      const a = await engine.approximate(q, 10);
      const b = await plainEngine.approximate(q, 10);
      expect(a.results.map((r) => r.id)).toEqual(b.results.map((r) => r.id));
      expect(a.stats.bytes).toBe(b.stats.bytes);
    }
    expect(withFilters.totals.shardBytes).toBe(without.totals.shardBytes);

    // Change the desk of three items: only their leaves' shards and attributes, and their chunks, change.
    const lines = (await readFile(path.join(work, "corpus.jsonl"), "utf8")).trim().split("\n");
    const changed = [5, 700, 1500];
    for (const i of changed) {
      const item = JSON.parse(lines[i]) as Meta;
      item.desk = item.desk === "rural" ? "world" : "rural";
      lines[i] = JSON.stringify(item);
    }
    await writeFile(path.join(work, "changed.jsonl"), lines.join("\n") + "\n");
    const next = path.join(work, "changed");
    await runBuild({ corpus: path.join(work, "changed.jsonl"), out: next, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, checkQueries: 20, base });
    const keysOf = async (dir: string) => {
      const m = await readManifest(dir);
      const read = blobReader(dir);
      return { shards: shardRefs(await readRouting(m, read)).map((r) => r.key), filters: filterValueRefs((await readFilterTable(m, read))!, await readRouting(m, read)).map((r) => r.key) };
    };
    const before = await keysOf(base);
    const after = await keysOf(next);
    const changedShards = after.shards.filter((k, l) => k !== before.shards[l]).length;
    expect(changedShards).toBeGreaterThanOrEqual(1);
    // A changed item's record key changes in its own leaf and in the leaf it is spilled into.
    expect(changedShards).toBeLessThanOrEqual(2 * changed.length);
    const kept = after.filters.filter((k) => before.filters.includes(k)).length;
    // A changed item rewrites its two leaves' attributes and, per column, the chunk it left and the
    // one it joined (three when its old or new key hash cuts a chunk): the rest keep their keys.
    const columns = 2;
    expect(after.filters.length - kept).toBeLessThanOrEqual(changed.length * (2 + 3 * columns));
    expect(after.filters.length - kept).toBeGreaterThanOrEqual(changed.length);
  });
});
