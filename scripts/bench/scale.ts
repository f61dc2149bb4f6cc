// `npm run bench -- --scale 1200000`: the index at the size of "A Million News
// Headlines", on this machine, in six named steps:
//   real embeddings (the 50k headlines, cached) → synthetic set (synthetic.ts,
//   cached) → neighbour quantiles, real vs synthetic → the normal build, as a
//   child process (seconds per stage, peak RSS) → recall, bytes and rounds of
//   300 held-out queries against exact float32 search (Node, the Worker's code)
//   → the same queries through HTTP from the Worker in workerd with local KV.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { routingBudget } from "../../lib/index/format.ts";
import type { IndexParams } from "../../lib/index/manifest.ts";
import { openIndex, searchVector } from "../../lib/index/reader.ts";
import { searchMode } from "../../lib/lexical/hybrid.ts";
import { EMBEDDING_DIM } from "../../lib/model/embed.ts";
import { FileSource, readManifest } from "../artifacts/dir.ts";
import { type BuildReport } from "../builder/build.ts";
import { readCorpus, type CorpusItem } from "../builder/corpus/read-corpus.ts";
import { EmbeddingCache } from "../builder/embedding/cache.ts";
import { embedCorpus } from "../builder/embedding/embed-corpus.ts";
import { prepareModel } from "../builder/embedding/node-model.ts";
import { EmbeddingPool } from "../builder/pools/embed-pool.ts";
import { FileVectors } from "../builder/embedding/vector-source.ts";
import { RowPasses } from "../builder/pools/row-passes.ts";
import { DEFAULT_PARAMS } from "../builder/build-index.ts";
import { ComputePool } from "../builder/pools/compute-pool.ts";
import { exactTruth } from "../builder/check/self-check.ts";
import { loadQueries, type BenchQuery } from "./queries.ts";
import { selfCheckVsHeldOut } from "./self-check-line.ts";
import { scaleFilters, type ScaleFilterResult } from "./scale-filters.ts";
import { kvCost, type KvCost } from "./scale-kv.ts";
import { buildInChild } from "./build-child.ts";
import { measureChange, type MeasuredChange } from "./scale-change.ts";
import type { Manifest } from "../../lib/index/manifest.ts";
import { dist, mean, recallAt, type Dist } from "./stats.ts";
import { growChunks, neighbourQuantiles, realNeighbours, SYNTHETIC_DEFAULTS, type Quantiles } from "./synthetic.ts";
import { measureThroughHttp, type WorkerMeasurements } from "./http-client.ts";
import { DEFAULT_CACHE, PROJECT_ROOT } from "../common/paths.ts";

export const SCALE_DEFAULTS = {
  items: 1_200_000,
  perturbed: 258,
  quantilePoints: 200,
  repeats: 2,
  k: 10,
};

export interface ScaleOptions {
  corpus: string;
  items: number;
  workDir: string;
  threads?: number;
  serve: boolean;
  /** Reuse the index a previous run built into the work dir (its report, seconds and peak RSS included). */
  reuseBuild?: boolean;
  /** Also build a copy of the set with CHANGE_SHARE of it changed over the index and count what its deploy writes (scale-change.ts). */
  kvChange?: boolean;
  /** The generator's noise (SYNTHETIC_DEFAULTS.noise when absent): more noise, a harder set whose neighbours sit farther apart. */
  noise?: number;
  log: (s: string) => void;
}

export interface ScaleReport {
  meta: { date: string; machine: { cpus: number; model: string; memGiB: number; loadAvg: number[] }; node: string; git: string };
  generator: { realItems: number; items: number; seed: number; noise: number; neighbours: number; seconds: number };
  quantiles: { real: Quantiles; synthetic: Quantiles };
  /** params: the built manifest's (absent in reports written before they were recorded). */
  /** reusedFrom: with --reuse-build, when the reused build wrote its report (its figures are that run's). */
  build: { seconds: Record<string, number>; peakRssBytes: number; report: BuildReport; params?: IndexParams; reusedFrom?: string };
  memoryFormula: { routingBytes1_2M: number; routingBytes10M_leaf32: number; measuredRoutingBytes: number };
  queries: { count: number; questions: number; perturbed: number };
  node: { recallAt10: number; recallByKind: Record<string, number>; bytes: Dist; roundTrips: Dist; shards: Dist };
  /** The same queries in hybrid mode (default fusion), Node: bytes and rounds; null for an index without a lexicon. */
  hybrid?: null | { bytes: Dist; roundTrips: Dist; lexiconParts: Dist };
  /** KV writes and stored bytes of a full deploy, and expected for a deploy after a small change (scale-kv.ts CHANGE_SHARE; absent in older reports). */
  kv?: KvCost;
  /** The same change built and counted (--kv-change; absent otherwise). */
  kvMeasured?: MeasuredChange;
  /** The 1-week and 1-month date filters over the same queries, Node (absent in older reports; null without filter columns). */
  filters?: ScaleFilterResult[] | null;
  /** What an isolate holds of the index, decoded: routing, filter table and lexicon head (the resident copy aside). */
  isolate?: { routingBytes: number; filterTableBytes: number; lexiconHeadBytes: number; totalBytes: number };
  worker: null | {
    recallAt10: number;
    publishSeconds: number;
    e2e: Dist;
    embed: Dist;
    search: Dist;
    compute: Dist;
    computeOverEmbedP50: number;
    cold: WorkerMeasurements["cold"];
    memory: WorkerMeasurements["memory"];
    bytes: Dist;
    roundTrips: Dist;
    errors: string[];
    /** One pass in hybrid mode (absent in older reports). */
    hybrid?: WorkerMeasurements["hybrid"];
  };
}

const run = promisify(execFile);

function noiseOf(o: ScaleOptions): number {
  return o.noise ?? SYNTHETIC_DEFAULTS.noise;
}
/** Seed of the points whose neighbour cosines are compared (the same rows each run). */
const QUANTILE_SEED = 9;

function machine(): ScaleReport["meta"]["machine"] {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "?", memGiB: Math.round(os.totalmem() / 2 ** 30), loadAvg: os.loadavg().map((x) => +x.toFixed(2)) };
}

async function gitCommit(): Promise<string> {
  return (await run("git", ["rev-parse", "HEAD"], { cwd: PROJECT_ROOT }).catch(() => ({ stdout: "unknown" }))).stdout.trim();
}

async function readItems(corpus: string): Promise<CorpusItem[]> {
  const items: CorpusItem[] = [];
  for await (const it of readCorpus(corpus, {}, { skippedBlank: [] } as never)) items.push(it);
  return items;
}

/** The real headlines' embeddings, from the build's embedding cache (embedded once if absent). */
async function realEmbeddings(o: ScaleOptions, items: CorpusItem[], pool: EmbeddingPool): Promise<Float32Array> {
  const model = await prepareModel();
  const { vectors } = await embedCorpus(items, EMBEDDING_DIM, new EmbeddingCache(DEFAULT_CACHE, model.modelId), pool, o.log, true);
  return vectors;
}

interface SyntheticFiles {
  corpus: string;
  vectors: string;
  seconds: number;
}

/** A CSV field, quoted when it must be. */
function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The synthetic corpus (CSV: id, the real corpus's metadata columns, headline_text)
 * and its vectors (.f32), written once per (items, seed, noise). A synthetic item
 * takes its text and metadata (e.g. the date, for the filter bench) from its
 * parent headline.
 */
async function syntheticFiles(o: ScaleOptions, items: CorpusItem[], real: Float32Array): Promise<SyntheticFiles> {
  const dir = path.join(o.workDir, `set-${o.items}-${SYNTHETIC_DEFAULTS.seed}-${noiseOf(o)}-meta`);
  const files = { corpus: path.join(dir, "corpus.csv"), vectors: path.join(dir, "vectors.f32"), done: path.join(dir, "done.json") };
  if (existsSync(files.done)) return { ...files, seconds: (JSON.parse(await readFile(files.done, "utf8")) as { seconds: number }).seconds };
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const pool = new ComputePool(real, EMBEDDING_DIM, o.threads);
  const neighbours = await realNeighbours(pool, items.length, SYNTHETIC_DEFAULTS.seed);
  await pool.close();
  const metaColumns = Object.keys(items[0]?.meta ?? {});
  const corpus = await open(files.corpus, "w");
  const vectors = await open(files.vectors, "w");
  try {
    await corpus.write(["id", ...metaColumns, "headline_text"].join(",") + "\n");
    // Written as generated, a chunk at a time: a 10M-item set is 20 GB of vectors.
    for (const c of growChunks(real, EMBEDDING_DIM, neighbours, { items: o.items, seed: SYNTHETIC_DEFAULTS.seed, noise: noiseOf(o) }, GENERATE_CHUNK_ROWS)) {
      const lines: string[] = [];
      c.parent.forEach((p, j) => {
        const i = c.start + j;
        const parent = items[p];
        lines.push([i < items.length ? `r${items[i].id}` : `s${i}`, ...metaColumns.map((col) => csvField(parent.meta[col])), csvField(parent.text)].join(",") + "\n");
      });
      await corpus.write(lines.join(""));
      await vectors.write(new Uint8Array(c.vectors.buffer, c.vectors.byteOffset, c.vectors.byteLength));
    }
  } finally {
    await corpus.close();
    await vectors.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  await writeFile(files.done, JSON.stringify({ seconds }));
  return { ...files, seconds };
}

/** Rows generated and written at a time. */
const GENERATE_CHUNK_ROWS = 100_000;

/** The default build (no tuning flags), as its own process: its report's peak RSS is the build's alone. */
async function buildStep(o: ScaleOptions, set: SyntheticFiles): Promise<{ out: string; report: BuildReport; reusedFrom?: string }> {
  // Each set's build apart, so --reuse-build finds the one of this set.
  const out = path.join(o.workDir, noiseOf(o) === SYNTHETIC_DEFAULTS.noise ? `index-${o.items}` : `index-${o.items}-noise-${noiseOf(o)}`);
  const previous = path.join(out, "report.json");
  if (o.reuseBuild && existsSync(previous)) {
    o.log(`build: reusing ${out}`);
    return { out, report: JSON.parse(await readFile(previous, "utf8")) as BuildReport, reusedFrom: (await stat(previous)).mtime.toISOString() };
  }
  const flags = ["--corpus", set.corpus, "--vectors", set.vectors, "--out", out];
  if (o.threads) flags.push("--threads", String(o.threads));
  return { out, report: await buildInChild(flags, `${out}.log`, o.log) };
}

/** The queries in hybrid mode: what lexical search adds to a query's bytes, and that rounds stay 2. */
async function hybridSearch(out: string, source: FileSource, texts: string[], queries: Float32Array[]): Promise<ScaleReport["hybrid"]> {
  const manifest = await readManifest(out);
  if (!manifest.lexical) return null;
  const handle = await openIndex(manifest, source, null);
  const bytes: number[] = [];
  const rounds: number[] = [];
  const parts: number[] = [];
  for (let i = 0; i < queries.length; i++) {
    const { stats } = await searchMode(handle, { text: texts[i], vector: queries[i] }, { k: SCALE_DEFAULTS.k, mode: "hybrid" });
    bytes.push(stats.bytes);
    rounds.push(stats.roundTrips);
    parts.push(stats.lexical?.parts ?? 0);
  }
  return { bytes: dist(bytes), roundTrips: dist(rounds), lexiconParts: dist(parts) };
}

async function nodeSearch(out: string, source: FileSource, queries: Float32Array[], truth: string[][], kinds: string[]) {
  const manifest = await readManifest(out);
  const handle = await openIndex(manifest, source, null);
  const recall: number[] = [];
  const bytes: number[] = [];
  const rounds: number[] = [];
  const shards: number[] = [];
  for (let i = 0; i < queries.length; i++) {
    const { results, stats } = await searchVector(handle, queries[i], { k: SCALE_DEFAULTS.k });
    recall.push(recallAt(results.map((r) => r.id), truth[i], SCALE_DEFAULTS.k));
    bytes.push(stats.bytes);
    rounds.push(stats.roundTrips);
    shards.push(stats.shards);
  }
  const byKind: Record<string, number[]> = {};
  kinds.forEach((k, i) => (byKind[k] ??= []).push(recall[i]));
  return {
    recallAt10: mean(recall),
    recallByKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, mean(v)])),
    bytes: dist(bytes),
    roundTrips: dist(rounds),
    shards: dist(shards),
  };
}

function workerFigures(m: WorkerMeasurements, truth: string[][]): NonNullable<ScaleReport["worker"]> {
  const runs = m.latencyRuns;
  const pick = (f: (r: (typeof runs)[number]) => Dist) => runs.map(f).sort((a, b) => a.p50 - b.p50)[runs.length >> 1];
  const e2e = pick((r) => r.e2e);
  const embed = pick((r) => r.embed);
  const compute = pick((r) => r.compute);
  return {
    recallAt10: mean(m.answers.map((a, i) => recallAt(a.ids, truth[i], SCALE_DEFAULTS.k))),
    publishSeconds: m.publishSeconds,
    e2e,
    embed,
    search: pick((r) => r.search),
    compute,
    computeOverEmbedP50: compute.p50 / embed.p50,
    cold: m.cold,
    memory: m.memory,
    bytes: dist(m.answers.map((a) => a.stats.bytes)),
    roundTrips: dist(m.answers.map((a) => a.stats.roundTrips)),
    errors: m.workerErrors.slice(0, 20),
    hybrid: m.hybrid,
  };
}

/** The real embeddings and the held-out queries, embedded on one pool. */
async function embedRealAndQueries(o: ScaleOptions, items: CorpusItem[]): Promise<{ real: Float32Array; queries: BenchQuery[]; qv: Float32Array[] }> {
  const embedder = new EmbeddingPool(o.threads);
  try {
    const real = await realEmbeddings(o, items, embedder);
    const queries = await loadQueries({ corpusTexts: items.map((i) => i.text), perturbed: SCALE_DEFAULTS.perturbed });
    return { real, queries, qv: await embedder.embed(queries.map((q) => q.text)) };
  } finally {
    await embedder.close();
  }
}

/** Neighbour quantiles of both sets, and the queries' exact top-k over the synthetic one (read a chunk at a time). */
async function measureSets(o: ScaleOptions, real: Float32Array, set: SyntheticFiles, qv: Float32Array[]): Promise<{ quantiles: ScaleReport["quantiles"]; truthRows: number[][] }> {
  const realPool = new ComputePool(real, EMBEDDING_DIM, o.threads);
  const realQ = await neighbourQuantiles(realPool, SCALE_DEFAULTS.quantilePoints, QUANTILE_SEED).finally(() => realPool.close());
  const passes = RowPasses.open(await FileVectors.open(set.vectors, o.items, EMBEDDING_DIM), o.threads);
  try {
    const synQ = await neighbourQuantiles(passes, SCALE_DEFAULTS.quantilePoints, QUANTILE_SEED);
    o.log(`neighbour cosine p50: real top-1 ${realQ.top1.p50} top-10 ${realQ.top10.p50}; synthetic top-1 ${synQ.top1.p50} top-10 ${synQ.top10.p50}`);
    return { quantiles: { real: realQ, synthetic: synQ }, truthRows: await exactTruth(passes, qv, SCALE_DEFAULTS.k) };
  } finally {
    await passes.close();
    await passes.source.close();
  }
}

/**
 * Items above which the bench does not load local KV for the HTTP pass: one
 * local write per record, hours at 10M on this machine (docs/bench-10m.md).
 */
const SERVE_MAX_ITEMS = 2_000_000;

async function serveStep(o: ScaleOptions, out: string, queries: BenchQuery[], truth: string[][]): Promise<ScaleReport["worker"]> {
  if (!o.serve) return null;
  if (o.items > SERVE_MAX_ITEMS) {
    o.log(`worker: no HTTP pass above ${SERVE_MAX_ITEMS} items (local KV would take one write per record); Node runs the Worker's search code`);
    return null;
  }
  // Kept between runs: the records (content-addressed) are already there, only what changed is sent.
  const persistDir = path.join(o.workDir, "kv");
  await mkdir(persistDir, { recursive: true });
  const m = await measureThroughHttp({ dir: out, queries: queries.map((q) => q.text), k: SCALE_DEFAULTS.k, repeats: SCALE_DEFAULTS.repeats, clients: [], exactQueries: 0, log: o.log, persistDir });
  const worker = workerFigures(m, truth);
  o.log(`worker: recall@10 ${worker.recallAt10.toFixed(4)}, e2e p50 ${worker.e2e.p50.toFixed(1)} ms, compute p50 ${worker.compute.p50.toFixed(2)} ms`);
  return worker;
}

export async function runScaleBench(o: ScaleOptions): Promise<ScaleReport> {
  const date = new Date().toISOString();
  const git = await gitCommit();
  const items = await readItems(o.corpus);
  const { real, queries, qv } = await embedRealAndQueries(o, items);
  const set = await syntheticFiles(o, items, real);
  o.log(`synthetic set: ${set.corpus} (${set.seconds.toFixed(0)} s to generate)`);
  const { quantiles, truthRows } = await measureSets(o, real, set, qv);
  const idOf = (row: number) => (row < items.length ? `r${items[row].id}` : `s${row}`);
  const truth = truthRows.map((rows) => rows.map(idOf));
  const { out, report, reusedFrom } = await buildStep(o, set);
  o.log(`build: ${report.seconds.total} s, peak RSS ${(report.peakRssBytes / 2 ** 30).toFixed(2)} GiB, self-check recall@10 ${report.selfCheck.recallAt10}`);
  // One index of items.pack for every query step below: at 10M, opening it reads the pack's gigabytes.
  const source = await FileSource.open(out);
  const node = await nodeSearch(out, source, qv, truth, queries.map((q) => q.kind));
  o.log(`node: recall@10 ${node.recallAt10.toFixed(4)}, ${(node.bytes.mean / 1024).toFixed(0)} KB/query, rounds max ${node.roundTrips.max}`);
  o.log(`self-check vs held-out: ${selfCheckVsHeldOut(report.selfCheck, node.recallAt10, node.recallByKind)}`);
  const realRow = new Map(items.map((it, i) => [`r${it.id}`, i]));
  const filters = await scaleFilters({ out, source, corpus: set.corpus, vectors: set.vectors, items: o.items, dim: EMBEDDING_DIM, k: SCALE_DEFAULTS.k, queries: qv, idOf, rowOf: (id) => (id.startsWith("s") ? Number(id.slice(1)) : realRow.get(id) ?? -1), log: o.log });
  const manifestText = await readFile(path.join(out, "manifest.json"), "utf8");
  const kv = await kvCost(out, JSON.parse(manifestText) as Manifest, report, Buffer.byteLength(manifestText));
  o.log(`kv: full deploy ${kv.full.writes} writes, ${(kv.full.bytes / 2 ** 30).toFixed(2)} GiB; after a 1% change ~${kv.change.writes} writes, ${(kv.change.bytes / 2 ** 20).toFixed(0)} MiB`);
  const kvMeasured = o.kvChange ? await measureChange(set, out, path.join(o.workDir, `change-${o.items}`), EMBEDDING_DIM, { ...o, reuse: o.reuseBuild }) : undefined;
  if (kvMeasured) o.log(`kv: after the 1% change, built: ${kvMeasured.writes} writes, ${(kvMeasured.bytes / 2 ** 20).toFixed(0)} MiB (${kvMeasured.seconds.toFixed(0)} s)`);
  const hybrid = await hybridSearch(out, source, queries.map((q) => q.text), qv);
  if (hybrid) o.log(`node, hybrid: ${(hybrid.bytes.mean / 1024).toFixed(0)} KB/query, rounds max ${hybrid.roundTrips.max}`);
  const worker = await serveStep(o, out, queries, truth);
  // The report counts base64 text; the isolate holds the decoded bytes.
  const routingBytes = (report.bytes.routing * 3) / 4;
  const filterTableBytes = (report.filters.tableBytes * 3) / 4;
  const lexiconHeadBytes = report.lexical?.headBytes ?? 0;
  return {
    meta: { date, machine: machine(), node: process.version, git },
    generator: { realItems: items.length, items: o.items, seed: SYNTHETIC_DEFAULTS.seed, noise: noiseOf(o), neighbours: 10, seconds: set.seconds },
    quantiles,
    build: { seconds: report.seconds, peakRssBytes: report.peakRssBytes, report, params: (await readManifest(out)).params, ...(reusedFrom ? { reusedFrom } : {}) },
    memoryFormula: {
      routingBytes1_2M: routingBudget(1_200_000, DEFAULT_PARAMS.leafSize, EMBEDDING_DIM, DEFAULT_PARAMS.pqM, DEFAULT_PARAMS.leafPqM),
      routingBytes10M_leaf32: routingBudget(10_000_000, 32, EMBEDDING_DIM, DEFAULT_PARAMS.pqM, DEFAULT_PARAMS.leafPqM),
      // The report counts base64 text; the isolate holds the decoded bytes.
      measuredRoutingBytes: (report.bytes.routing * 3) / 4,
    },
    queries: { count: queries.length, questions: queries.filter((q) => q.kind === "question").length, perturbed: queries.filter((q) => q.kind === "perturbed").length },
    node,
    filters,
    kv,
    ...(kvMeasured ? { kvMeasured } : {}),
    hybrid,
    isolate: { routingBytes, filterTableBytes, lexiconHeadBytes, totalBytes: routingBytes + filterTableBytes + lexiconHeadBytes },
    worker,
  };
}
