import { DEFAULT_PARAMS } from "../scripts/builder/build-index.ts";
// End to end: real headlines, the real model, runBuild and the CLIs. One build
// of 400 headlines is shared by the file; a rebuild must come entirely from the
// embedding cache with the same content-hash version, and 10 new lines must cost
// exactly 10 embeddings. The artifacts on disk must match their manifest.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { proxyQueries } from "../scripts/builder/check/perturb.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FORMAT, type Manifest } from "../lib/index/manifest.ts";
import { artifactVersionValues, blobPath, readPackIndex } from "../scripts/artifacts/dir.ts";
import { runBuild, type BuildReport } from "../scripts/builder/build.ts";
import { EmbeddingCache } from "../scripts/builder/embedding/cache.ts";
import { prepareModel } from "../scripts/builder/embedding/node-model.ts";
import { headlines, runCli, tempDir, writeHeadlinesCsv } from "./helpers/build-fixtures.ts";

const N = 400;
const ADDED = 10;
const CHECK_QUERIES = 40;
const ROW_BYTES = 32 + 512 * 4;

describe("build artifacts, embedding cache and search CLI", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let corpus: string;
  let out: string;
  let cacheDir: string;
  let rows: Array<{ date: string; text: string }>;
  let first: { manifest: Manifest; report: BuildReport };
  let cacheFile: string;
  let cacheBytesAfterFirst: number;

  beforeAll(async () => {
    t = await tempDir();
    corpus = path.join(t.dir, "headlines.csv");
    out = path.join(t.dir, "out");
    cacheDir = path.join(t.dir, "cache");
    rows = await headlines(N);
    expect(rows).toHaveLength(N);
    expect(new Set(rows.map((r) => r.text)).size).toBe(N);
    await writeHeadlinesCsv(corpus, rows);
    first = await runBuild({ corpus, out, cacheDir, quiet: true, checkQueries: CHECK_QUERIES });
    cacheFile = new EmbeddingCache(cacheDir, first.manifest.model.id).file;
    cacheBytesAfterFirst = (await stat(cacheFile)).size;
  });
  afterAll(async () => t?.cleanup());

  /** Texts the cache holds after building these corpora: every item and every self-check query proxy, once each. */
  const cachedTexts = (...corpora: string[][]) => new Set(corpora.flatMap((texts) => [...texts, ...proxyQueries(texts, CHECK_QUERIES).flatMap((p) => (p.text === undefined ? [] : [p.text]))]));

  it("embeds every item once on the first build and caches it, with the self-check's query proxies", () => {
    expect(first.report.items).toBe(N);
    expect(first.report.embeddings.computed).toBe(N);
    expect(first.report.embeddings.cached).toBe(0);
    expect(first.report.embeddings.threads).toBeGreaterThanOrEqual(1);
    expect(first.report.embeddings.perSecond).toBeGreaterThan(0);
    const texts = rows.map((r) => r.text);
    const proxies = cachedTexts(texts).size - N;
    expect(proxies).toBeGreaterThan(0);
    expect(cacheBytesAfterFirst).toBe((N + proxies) * ROW_BYTES);
  });

  it("writes a manifest that describes the build", async () => {
    const m = first.manifest;
    const onDisk = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8")) as Manifest;
    expect(onDisk).toEqual(m);
    const model = await prepareModel();
    expect(m.format).toBe(FORMAT);
    expect(m.version).toMatch(/^[0-9a-f]{16}$/);
    expect(Number.isNaN(Date.parse(m.createdAt))).toBe(false);
    expect(m.model.id).toBe(model.modelId);
    expect(m.model.id).toMatch(/^use-lite@0\.2\.0\/f16-[0-9a-f]{12}$/);
    expect(m.model.weights.sha256).toBe(model.weightsSha256);
    expect(m.model.dim).toBe(512);
    expect(m.dim).toBe(512);
    expect(m.items).toBe(N);
    // Content hash of everything but createdAt and the version itself.
    const { createdAt: _c, version: _v, ...hashed } = m;
    expect(createHash("sha256").update(JSON.stringify(hashed)).digest("hex").slice(0, 16)).toBe(m.version);

    const p = m.params;
    expect(p.pqM).toBe(DEFAULT_PARAMS.pqM);
    expect(p.rerank).toBe(DEFAULT_PARAMS.rerank);
    expect(p.rerankMargin).toBe(DEFAULT_PARAMS.rerankMargin);
    expect(p.probeMargin).toBe(DEFAULT_PARAMS.probeMargin);
    expect(p.maxShardBytes).toBe(DEFAULT_PARAMS.maxShardBytes);
    expect(p.leaves).toBe((await artifactVersionValues(out, m)).shards.length);
    expect(p.groups).toBeGreaterThanOrEqual(1);
    expect(p.groups).toBeLessThanOrEqual(p.leaves);
    expect(p.leaves).toBeGreaterThanOrEqual(Math.round((N / DEFAULT_PARAMS.leafSize) * 0.7));
    expect(p.leaves).toBeLessThanOrEqual(Math.round((N / DEFAULT_PARAMS.leafSize) * 1.3));
    expect(p.nprobe).toBeGreaterThanOrEqual(1);
    expect(p.nprobe).toBeLessThanOrEqual(p.leaves);
    expect(m.examples?.length).toBeGreaterThan(0);
    for (const e of m.examples ?? []) expect(rows.map((r) => r.text)).toContain(e);

    expect(m.corpus).toEqual({
      file: "headlines.csv",
      sha256: createHash("sha256").update(await readFile(corpus)).digest("hex"),
      format: "csv",
      textColumn: "headline_text",
      metaColumns: ["publish_date"],
      skippedBlank: 0,
    });

    const sc = m.selfCheck;
    expect(sc.queries).toBe(CHECK_QUERIES);
    expect(sc.k).toBe(10);
    expect(sc.recallAt10).toBeGreaterThan(0.8);
    expect(sc.recallAt10).toBeLessThanOrEqual(1);
    expect(sc.roundTrips).toBe(2);
    expect(sc.meanBytes).toBeGreaterThan(0);
    expect(sc.maxBytes).toBeGreaterThanOrEqual(sc.meanBytes);
    expect(sc.curve.map((c) => c.nprobe)).toContain(p.nprobe);
  });

  it("stores every blob the version names, byte for byte, and nothing else", async () => {
    const m = first.manifest;
    const values = await artifactVersionValues(out, m);
    // Every item record fits 32 MiB packed, so the build wrote a resident copy too (format.ts, section 8).
    expect(m.resident).toMatchObject({ items: N });
    expect(values.resident.map((r) => r.key)).toEqual(m.resident!.blocks.map((r) => r.key));
    const refs = [m.model.topology, m.model.weights, m.model.vocab, ...m.routing, ...m.catalog, ...m.resident!.blocks];
    expect(values.shards).toHaveLength(m.params.leaves);
    for (const ref of refs) {
      const data = await readFile(blobPath(out, ref.key));
      expect(ref.key).toBe(`blob/${ref.sha256.slice(0, 32)}`);
      expect(data.byteLength, ref.key).toBe(ref.bytes);
      expect(createHash("sha256").update(data).digest("hex"), ref.key).toBe(ref.sha256);
    }
    // A shard's key is its hash's first 128 bits, and the routing knows its length.
    for (const s of values.shards) {
      const data = await readFile(blobPath(out, s.key));
      expect(data.byteLength, s.key).toBe(s.bytes);
      expect(`blob/${createHash("sha256").update(data).digest("hex").slice(0, 32)}`).toBe(s.key);
    }
    // So are the filter values' (the corpus's publish_date is filterable): table parts, leaf attributes, column chunks.
    expect(m.filters?.fields).toEqual([{ name: "publish_date", type: "date" }]);
    // One attributes value per leaf, and at least one date chunk.
    expect(values.filters.length).toBeGreaterThan(m.filters!.table.length + m.params.leaves);
    for (const f of values.filters) {
      const data = await readFile(blobPath(out, f.key));
      expect(data.byteLength, f.key).toBe(f.bytes);
      expect(`blob/${createHash("sha256").update(data).digest("hex").slice(0, 32)}`).toBe(f.key);
    }
    // And the lexical index's: head parts, lexicon parts and postings tails.
    expect(values.lexical.length).toBeGreaterThan(0);
    for (const v of values.lexical) {
      const data = await readFile(blobPath(out, v.key));
      expect(data.byteLength, v.key).toBe(v.bytes);
      expect(`blob/${createHash("sha256").update(data).digest("hex").slice(0, 32)}`).toBe(v.key);
    }
    const blobKeys = [...refs.map((r) => r.key), ...values.shards.map((s) => s.key), ...values.filters.map((f) => f.key), ...values.lexical.map((v) => v.key)];
    expect((await readdir(path.join(out, "blobs"))).sort()).toEqual([...new Set(blobKeys.map((k) => k.slice(5)))].sort());

    // Item records: one per item, each keyed by its own sha256 prefix.
    const pack = await readPackIndex(out);
    expect(pack.keys).toHaveLength(N);
    const buf = await readFile(path.join(out, "items.pack"));
    let itemBytes = 0;
    for (const i of [0, 1, 123, N - 1]) {
      const text = buf.subarray(pack.offsets[i], pack.offsets[i] + pack.lengths[i]);
      expect(`item/${createHash("sha256").update(text).digest("hex").slice(0, 16)}`).toBe(pack.keys[i]);
      const rec = JSON.parse(text.toString("utf8"));
      expect(rec).toMatchObject({ id: String(i), text: rows[i].text, meta: { publish_date: rows[i].date } });
    }
    for (let i = 0; i < N; i++) itemBytes += pack.lengths[i];
    expect((await stat(path.join(out, "vectors.f32"))).size).toBe(N * 512 * 4);

    const sum = (xs: Array<{ bytes: number }>) => xs.reduce((a, x) => a + x.bytes, 0);
    const shardBytes = sum(values.shards);
    const indexBytes = sum(m.routing) + shardBytes + sum(m.catalog) + sum(values.filters) + sum(values.lexical);
    expect(m.totals.itemBytes).toBe(itemBytes);
    expect(m.totals.indexBytes).toBe(indexBytes);
    expect(m.totals.modelBytes).toBe(m.model.topology.bytes + m.model.weights.bytes + m.model.vocab.bytes);
    expect(m.totals.bytesPerItem).toBe(Math.round(((indexBytes + itemBytes) / N) * 10) / 10);
    expect(m.totals.kvValues).toBe(3 + m.routing.length + m.catalog.length + values.shards.length + values.filters.length + values.resident.length + values.lexical.length + N + 1);
    // The resident copy is counted apart: it repeats the records.
    expect(m.totals.residentBytes).toBe(sum(values.resident));
    expect(m.totals.shards).toBe(values.shards.length);
    expect(m.totals.shardBytes).toBe(shardBytes);
  });

  it("writes report.json with the build's numbers", async () => {
    const r = JSON.parse(await readFile(path.join(out, "report.json"), "utf8")) as BuildReport;
    expect(r).toEqual(first.report);
    const m = first.manifest;
    expect(r.version).toBe(m.version);
    expect(r.out).toBe(out);
    expect(r.skippedBlank).toBe(0);
    expect(r.shards.count).toBe(m.params.leaves);
    const sizes = (await artifactVersionValues(out, m)).shards.map((s) => s.bytes).sort((a, b) => a - b);
    expect([r.shards.minBytes, r.shards.maxBytes]).toEqual([sizes[0], sizes[sizes.length - 1]]);
    const sum = (xs: Array<{ bytes: number }>) => xs.reduce((a, x) => a + x.bytes, 0);
    expect(r.bytes.routing).toBe(sum(m.routing));
    expect(r.bytes.shards).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(r.bytes.items).toBe(m.totals.itemBytes);
    expect(r.bytes.catalog).toBe(sum(m.catalog));
    expect(r.bytes.resident).toBe(sum(m.resident!.blocks));
    expect(r.kvValues.routingParts).toBe(m.routing.length);
    expect(r.kvValues.largestBytes).toBeLessThanOrEqual(25 * 2 ** 20);
    expect(r.bytes.manifest).toBe((await stat(path.join(out, "manifest.json"))).size);
    expect(r.selfCheck).toEqual(m.selfCheck);
    for (const k of ["read", "embed", "index", "self-check", "write", "total"]) expect(r.seconds[k], k).toBeGreaterThanOrEqual(0);
    expect(r.peakRssBytes).toBeGreaterThan(0);
  });

  it("search --json prints the documented line shape, and --exact agrees on an item's own text", async () => {
    const own = rows[17].text;
    const [approx, exact, twoQueries] = await Promise.all([
      runCli("search", ["--json", "--mode", "semantic", "--artifacts", out, own]),
      runCli("search", ["--json", "--exact", "--k", "3", "--artifacts", out, own]),
      runCli("search", ["--json", "--k", "2", "--artifacts", out, "bushfire threatens homes", "cricket world cup"]),
    ]);
    for (const r of [approx, exact, twoQueries]) expect(r.code, r.stderr).toBe(0);

    const lines = approx.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const a = JSON.parse(lines[0]);
    expect(Object.keys(a).sort()).toEqual(["fusion", "mode", "q", "results", "stats"]);
    expect(a).toMatchObject({ q: own, mode: "semantic", fusion: null });
    expect(a.results).toHaveLength(10);
    for (const hit of a.results) {
      expect(Object.keys(hit).sort()).toEqual(["id", "meta", "score", "scores", "text"]);
      // Semantic mode reads no postings: the score is the cosine, and no BM25 is given.
      expect(hit.scores).toEqual({ semantic: hit.score, lexical: null });
      expect(typeof hit.id).toBe("string");
      expect(typeof hit.score).toBe("number");
      expect(typeof hit.text).toBe("string");
      expect(Object.keys(hit.meta)).toEqual(["publish_date"]);
    }
    for (const key of ["bytes", "roundTrips", "shards"]) expect(a.stats).toHaveProperty(key);
    expect(a.stats.roundTrips).toBe(2);
    expect(a.stats.shards).toBe(first.manifest.params.nprobe);
    expect(a.stats.bytes).toBeGreaterThan(0);
    expect(a.results[0]).toMatchObject({ id: "17", text: own, meta: { publish_date: rows[17].date } });
    expect(a.results[0].score).toBeGreaterThan(0.99);

    const e = JSON.parse(exact.stdout.trim());
    expect(e.results).toHaveLength(3);
    expect(e.results[0].id).toBe(a.results[0].id);
    expect(e.results[0].score).toBeCloseTo(1, 3);
    expect(Math.abs(e.results[0].score - a.results[0].score)).toBeLessThan(0.01);

    const two = twoQueries.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(two.map((x) => x.q)).toEqual(["bushfire threatens homes", "cricket world cup"]);
    expect(two.every((x) => x.results.length === 2)).toBe(true);
  });

  it("rebuilds an unchanged corpus entirely from the cache, query proxies included, to the same version", async () => {
    const again = await runBuild({ corpus, out, cacheDir, quiet: true, checkQueries: CHECK_QUERIES });
    expect(again.report.embeddings.computed).toBe(0);
    expect(again.report.embeddings.cached).toBe(N);
    expect(again.manifest.version).toBe(first.manifest.version);
    expect(again.manifest.routing).toEqual(first.manifest.routing);
    expect((await stat(cacheFile)).size).toBe(cacheBytesAfterFirst);
  });

  it("embeds only the 10 added lines on the next build (CLI, --json report)", async () => {
    const more = [...rows, ...(await headlines(ADDED, 1500))];
    expect(new Set(more.map((r) => r.text)).size).toBe(N + ADDED);
    const grown = path.join(t.dir, "grown.csv");
    await writeHeadlinesCsv(grown, more);
    const out2 = path.join(t.dir, "out2");
    const r = await runCli("build", ["--corpus", grown, "--out", out2, "--cache", cacheDir, "--check-queries", String(CHECK_QUERIES), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim()) as BuildReport;
    expect(report.items).toBe(N + ADDED);
    expect(report.embeddings.computed).toBe(ADDED);
    expect(report.embeddings.cached).toBe(N);
    expect(report.version).not.toBe(first.manifest.version);
    expect(report.out).toBe(out2);
    expect(r.stderr).toMatch(new RegExp(`embedding ${ADDED} new text\\(s\\)`));
    const grownBy = cachedTexts(rows.map((r) => r.text), more.map((r) => r.text)).size - cachedTexts(rows.map((r) => r.text)).size;
    expect(grownBy).toBeGreaterThan(ADDED);
    expect((await stat(cacheFile)).size).toBe(cacheBytesAfterFirst + grownBy * ROW_BYTES);
  });
});
