// A real index for the Worker tests: every 25th headline of the ABC news file
// (2,000 headlines spread over Feb–Oct 2003, so SARS news is in it; committed as
// test/fixtures/abcnews-2003-every25.csv so a fresh clone needs nothing beside it), built
// with runBuild once and reused across test files and runs. The artifacts live
// in a temp dir keyed by the subset's bytes and the sources that shape an index,
// so a corpus or code change rebuilds and an unchanged tree does not. Publishing
// happens once into a template KV store that each test worker copies.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readManifest } from "../../scripts/artifacts/dir.ts";
import { runBuild } from "../../scripts/builder/build.ts";
import { publishToLocalKv } from "../../scripts/local/bulk-load.ts";
import { sampleQueries } from "../../scripts/builder/check/perturb.ts";
import { sourceHash } from "../../scripts/builder/source-hash.ts";
import type { ArtifactSearch } from "../../scripts/artifacts/node-search.ts";
import type { ItemRecord } from "../../lib/index/format.ts";
import { DEFAULT_CACHE, PROJECT_ROOT } from "../../scripts/common/paths.ts";

/** The header, then every 25th data row of ../shared/data/abcnews-2003-50k.csv (CC0), LF line ends. */
export const SOURCE_CSV = path.join(PROJECT_ROOT, "test", "fixtures", "abcnews-2003-every25.csv");
/**
 * The self-check picks the smallest nprobe whose recall on 200 queries clears
 * its target, so the index it ships sits right at the target: with a target of
 * 0.955 (the build's old default), nprobe 12 had recall@10 ≈ 0.952 on fresh
 * queries of this corpus and 17 of 40 disjoint 50-query sets fell below 0.95.
 * The tests assert ≥ 0.95 on 50 queries, so the fixture pins a margin (0.97,
 * now also the build's default) rather than follow the default.
 */
export const TARGET_RECALL = 0.97;
/** Besides the index sources: the fixture also publishes, and its own recipe shapes it. */
const FIXTURE_SOURCES = ["scripts/deploy/publish.ts", "test/helpers/index-fixture.ts"];

export interface IndexFixture {
  /** runBuild's output directory (manifest.json, blobs/, items.pack, vectors.f32). */
  dir: string;
  version: string;
  items: number;
  /** A Miniflare persist dir with the index and its model published; copy it, never write to it. */
  kvTemplate: string;
  /** What the fixture cost this run, for the log. */
  seconds: { build: number; publish: number };
  reused: boolean;
}

/**
 * The slice as JSONL lines (`id` h0…, `text`, `publish_date`) plus the extra
 * metadata `columns(i, text)` gives row i: corpora with more filterable columns
 * whose embeddings are all in the cache.
 */
export async function fixtureJsonlLines(columns: (i: number, text: string) => Record<string, string | number> = () => ({})): Promise<string[]> {
  const rows = (await subsetCsv()).trim().split("\n").slice(1);
  return rows.map((row, i) => {
    const comma = row.indexOf(",");
    const text = row.slice(comma + 1);
    return JSON.stringify({ id: `h${i}`, text, publish_date: row.slice(0, comma), ...columns(i, text) });
  });
}

/** The subset as CSV text (the committed slice). */
export async function subsetCsv(): Promise<string> {
  return readFile(SOURCE_CSV, "utf8");
}

/**
 * Builds (or finds) the fixture index and its KV template, under
 * ESS_TEST_FIXTURE_ROOT (default: the OS temp dir). The embedding cache is
 * ESS_TEST_EMBED_CACHE, else the build's default .cache/embeddings.
 */
export async function ensureIndexFixture(): Promise<IndexFixture> {
  const csv = await subsetCsv();
  const key = createHash("sha256").update(csv).update(await sourceHash(FIXTURE_SOURCES)).digest("hex").slice(0, 16);
  const parent = process.env.ESS_TEST_FIXTURE_ROOT || os.tmpdir();
  await mkdir(parent, { recursive: true });
  const root = path.join(parent, `ess-index-fixture-${key}`);
  const seconds = { build: 0, publish: 0 };
  const reused = existsSync(path.join(root, "ready"));
  if (!reused) {
    // Build into a private dir and rename it into place: concurrent test runs
    // (other checkouts, other engineers) never see a half-written fixture.
    const work = await mkdtemp(path.join(parent, `ess-index-build-${key}-`));
    try {
      const corpus = path.join(work, "abcnews-every25.csv");
      await writeFile(corpus, csv);
      const out = path.join(work, "artifacts");
      let t = performance.now();
      await runBuild({ corpus, out, cacheDir: process.env.ESS_TEST_EMBED_CACHE || DEFAULT_CACHE, quiet: true, targetRecall: TARGET_RECALL });
      seconds.build = (performance.now() - t) / 1000;
      t = performance.now();
      const kvTemplate = path.join(work, "kv");
      await mkdir(kvTemplate);
      await publishToLocalKv(kvTemplate, out);
      seconds.publish = (performance.now() - t) / 1000;
      await writeFile(path.join(work, "ready"), new Date().toISOString());
      await rename(work, root).catch(async (e: NodeJS.ErrnoException) => {
        // Someone else finished first: theirs is as good as ours.
        if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
        await rm(work, { recursive: true, force: true });
      });
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }
  const dir = path.join(root, "artifacts");
  const manifest = await readManifest(dir);
  return { dir, version: manifest.version, items: manifest.items, kvTemplate: path.join(root, "kv"), seconds, reused };
}

/** A private copy of the fixture's KV store for one Worker. */
export async function copyKvTemplate(fixture: IndexFixture, persistDir: string): Promise<void> {
  await cp(fixture.kvTemplate, persistDir, { recursive: true });
}

/** Headlines about SARS (named on 15 March 2003; the first reports call it a mystery pneumonia). */
export const SARS_HEADLINE = /\bsars\b|pneumonia (bug|virus)|mystery (respiratory )?illness|chest illness/;

/** Natural-language questions on the period's news, for recall and parity checks. */
export const NATURAL_QUERIES = [
  "what is the latest on the sars outbreak in asia",
  "how are farmers coping with the drought",
  "who won the cricket test match",
  "when will troops come home from iraq",
  "is the government raising interest rates",
  "bushfires threaten homes in canberra",
  "what happened at the rugby world cup",
  "police investigate a fatal car crash",
  "new hospital funding for regional health services",
  "protests against the war in iraq",
];

/** The fixture's item texts in build order (row i is item i). */
export async function fixtureTexts(search: ArtifactSearch): Promise<string[]> {
  const texts: string[] = [];
  for (let i = 0; i < search.manifest.items; i++) texts.push((JSON.parse(await search.source.recordText(i)) as ItemRecord).text);
  return texts;
}

/**
 * 50 fixed queries: 40 headlines with one small edit (drawn with a seed the
 * build's self-check does not use) and the 10 natural questions above.
 */
export function evaluationQueries(texts: readonly string[]): string[] {
  return [...sampleQueries(texts, 40, 2025).map((s) => s.text), ...NATURAL_QUERIES];
}
