// The whole benchmark as one function (the CLI in scripts/bench.ts and the
// smoke test call it): build (cached) → queries and their exact answers → the
// project through HTTP in workerd → exact search in the Worker → the seed's
// pipeline (random projection + Annoy) → Annoy and hnswlib on the full vectors
// → the recall-vs-bytes curve over the index's knobs.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openIndex, searchVector } from "../../lib/index/reader.ts";
import { EmbeddingPool } from "../builder/pools/embed-pool.ts";
import { DEFAULT_PARAMS } from "../builder/build-index.ts";
import type { Bundle } from "../local/harness.ts";
import { annoyIndexFile, AnnoyForest, gaussianProjection, loadNativeAnnoy } from "./annoy.ts";
import { BENCH_CACHE, cachedBuild, type CachedBuild } from "./build-cache.ts";
import { sweep, type CurvePoint } from "./curve.ts";
import { MemorySource } from "../artifacts/memory-source.ts";
import { HnswGraph, hnswIndexFile, loadNativeHnsw } from "./hnsw.ts";
import { loadQueries, type BenchQuery } from "./queries.ts";
import { bytesAtRecall, dist, mean, recallAt, repeated, type Dist, type Repeated } from "./stats.ts";
import { exactTruth, loadCorpus } from "./truth.ts";
import { measureThroughHttp, type WireAnswer, type WorkerMeasurements } from "./http-client.ts";
import { latencyFigures, latencyTargets, loadAverage, type LatencyFigures, type LatencyTargets } from "./latency.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import type { SelfCheck } from "../../lib/index/manifest.ts";

export interface BenchOptions {
  corpus: string;
  queriesFile?: string;
  k?: number;
  /** Perturbed corpus items added to the project's questions. */
  perturbed?: number;
  repeats?: number;
  clients?: number[];
  exactQueries?: number;
  /** Extra builds for the shard-size knob of the curve (the main build uses the default leaf size). */
  leafSizes?: number[];
  nprobes?: number[];
  reranks?: number[];
  annoyTrees?: number;
  annoySearchK?: number[];
  projectDim?: number;
  hnswM?: number;
  hnswEfConstruction?: number;
  hnswEf?: number[];
  targetRecall?: number;
  threads?: number;
  cacheRoot?: string;
  bundle?: Bundle;
  log?: (s: string) => void;
}

export const DEFAULTS = {
  k: 10,
  perturbed: 200,
  repeats: 3,
  clients: [1, 8],
  exactQueries: 10,
  leafSizes: [24, 96],
  annoyTrees: 100,
  annoySearchK: [1000, 2500, 5000, 10000, 20000, 40000],
  projectDim: 64,
  hnswM: 16,
  hnswEfConstruction: 200,
  hnswEf: [10, 20, 40, 80, 160],
  targetRecall: 0.95,
};

export interface BaselinePoint {
  knob: number;
  recallAt10: number;
  recallAt1: number;
  qps: Repeated;
  /** Distinct vectors compared per query (mean). */
  vectorsRead: number;
  /** Headline KV bytes per query: vectors read as int8 (dim B each) + the index structure read. */
  bytes: number;
  bytesP95: number;
  /** The same with float32 vectors, as the library stores them. */
  bytesF32: number;
  /** Bytes of index structure read (annoy split/bucket nodes, hnsw neighbour lists), included in `bytes`. */
  structureBytes: number;
  /** Dependent KV round trips a query would need. */
  rounds: Dist;
  /** Share of the native library's top-k that the TypeScript replay reproduces. */
  replayAgreement: number;
}

export interface BaselineResult {
  name: string;
  params: Record<string, number | string>;
  buildSeconds: number | null;
  indexBytes: number;
  indexBytesPerItem: number;
  points: BaselinePoint[];
  bytesAtTarget: number | null;
}

export interface BenchResult {
  meta: {
    date: string;
    git: { commit: string; dirty: boolean };
    cpu: { model: string; cores: number };
    node: string;
    platform: string;
    corpus: { file: string; sha256: string; items: number };
    queries: { source: string; count: number; byKind: Record<string, number> };
    k: number;
    repeats: number;
    targetRecall: number;
    seconds: number;
    /** 1-minute load average when the run started and ended: the machine is shared. */
    load: { start: number; end: number };
  };
  build: {
    reused: boolean;
    version: string;
    leafSize: number;
    params: CachedBuild["manifest"]["params"];
    seconds: Record<string, number>;
    embeddings: CachedBuild["report"]["embeddings"] & { sample?: { texts: number; perSecond: number; perSecondPerCore: number; threads: number } };
    bytesPerItem: number;
    bytes: CachedBuild["report"]["bytes"];
    peakRssBytes: number;
    selfCheckRecallAt10: number;
    /** The build's whole self-check, its recall per proxy kind included (absent in older reports). */
    selfCheck?: SelfCheck;
  };
  exactNode: { msPerQuery: number };
  project: {
    recallAt1: number;
    recallAt10: number;
    recallAt10ByKind: Record<string, number>;
    shards: Dist;
    records: Dist;
    bytes: Dist;
    fetchedBytes: Dist;
    roundTrips: Dist;
    /** Same code in Node without any cache: what a cold isolate does. */
    uncached: { bytes: Dist; roundTrips: Dist; recallAt10: number };
    latency: LatencyFigures;
    cold: { e2eMs: number; serverTotalMs: number; embedMs: number; searchMs: number; modelLoadMs: number | null };
    memory: WorkerMeasurements["memory"];
    /** Whether round 2 re-ranked from the isolate's resident records in the timed passes; absent in older reports. */
    resident?: WorkerMeasurements["resident"];
    /** One pass in hybrid mode; null without a lexicon, absent in older reports. */
    hybrid?: WorkerMeasurements["hybrid"];
    qps: Record<string, Repeated>;
    publishSeconds: number;
    bytesAtTarget: number | null;
  };
  exactWorker: { queries: number; error: string | null; workerErrors: string[]; recallAt10: number; e2e: Dist; search: Dist; bytes: number; records: number; roundTrips: number };
  seed: BaselineResult & { projection: string };
  annoy: BaselineResult;
  hnsw: BaselineResult;
  curve: CurvePoint[];
  ratios: Record<string, number | null>;
  targets: {
    recallAt10: { target: number; value: number; pass: boolean };
    bytesVsAnnoy: { target: number; value: number | null; pass: boolean };
  } & LatencyTargets;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: PROJECT_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

function timePasses(repeats: number, n: number, run: () => void): Repeated {
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    run();
    runs.push(n / ((performance.now() - t0) / 1000));
  }
  return repeated(runs);
}

type Resolved = typeof DEFAULTS & BenchOptions & { log: (s: string) => void; cacheRoot: string };
type Corpus = Awaited<ReturnType<typeof loadCorpus>>;
type Http = Awaited<ReturnType<typeof measureThroughHttp>>;
type EmbedSample = BenchResult["build"]["embeddings"]["sample"];

/** The queries, their vectors (as the Worker embeds them) and their exact answers. */
interface QuerySet {
  queries: BenchQuery[];
  vectors: Float32Array[];
  truth: ReturnType<typeof exactTruth>;
  truthIds: string[][];
  embedSample: EmbedSample;
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const o = resolveOptions(opts);
  const t0 = performance.now();
  const loadStart = loadAverage();
  // The commit when the run starts: the build is of this tree (others may commit during the run).
  const gitAtStart = { commit: git(["rev-parse", "HEAD"]), dirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "" };
  const main = await mainBuild(o);
  const corpus = await loadCorpus(main.dir, main.manifest.dim);
  const qs = await querySet(o, main, corpus);
  const http = await measureThroughHttp({
    dir: main.dir,
    queries: qs.queries.map((q) => q.text),
    k: o.k,
    repeats: o.repeats,
    clients: o.clients,
    exactQueries: Math.min(o.exactQueries, qs.queries.length),
    bundle: o.bundle,
    log: o.log,
  });
  const uncached = await uncachedReads(main, qs, o.k);
  const seed = await seedPipeline(o, corpus, qs);
  const { annoy, hnsw } = await fullVectorBaselines(o, corpus, qs);
  const { curve, projectAtTarget } = await recallCurve(o, main, qs);
  const project = projectFigures(http, qs, o.k, uncached, projectAtTarget);
  const exactWorker = exactWorkerFigures(http, qs, o.k);
  const ratios = ratiosOf(http, exactWorker, project, seed, annoy, hnsw);
  const bytesVsAnnoy = ratios.annoyOverProjectBytesAtTarget;
  return {
    meta: await metaOf(o, gitAtStart, corpus, qs, t0, loadStart),
    build: buildFigures(main, qs.embedSample),
    exactNode: { msPerQuery: qs.truth.msPerQuery },
    project,
    exactWorker,
    seed,
    annoy,
    hnsw,
    curve,
    ratios,
    targets: {
      recallAt10: { target: o.targetRecall, value: project.recallAt10, pass: project.recallAt10 >= o.targetRecall },
      bytesVsAnnoy: { target: 10, value: bytesVsAnnoy, pass: bytesVsAnnoy !== null && bytesVsAnnoy >= 10 },
      ...latencyTargets(project.latency),
    },
  };
}

function resolveOptions(opts: BenchOptions): Resolved {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & BenchOptions;
  return { ...o, log: o.log ?? (() => {}), cacheRoot: o.cacheRoot ?? BENCH_CACHE };
}

// Build (cached).
async function mainBuild(o: Resolved): Promise<CachedBuild> {
  o.log(`build: ${o.corpus}`);
  const main = await cachedBuild(o.corpus, { threads: o.threads }, { cacheRoot: o.cacheRoot, quiet: false });
  o.log(`build ${main.reused ? "reused" : "done"}: ${main.manifest.items} items, ${main.manifest.params.leaves} leaves, nprobe ${main.manifest.params.nprobe}, rerank ${main.manifest.params.rerank}`);
  return main;
}

// Queries, embedded by the Node embedder (same model as the Worker), and the exact answers.
async function querySet(o: Resolved, main: CachedBuild, corpus: Corpus): Promise<QuerySet> {
  const queries: BenchQuery[] = await loadQueries({ file: o.queriesFile, corpusTexts: corpus.texts, perturbed: o.perturbed });
  const pool = new EmbeddingPool(o.threads);
  let vectors: Float32Array[];
  let embedSample: EmbedSample;
  try {
    vectors = (await pool.embed(queries.map((q) => q.text))).map(unitVector);
    // Embedding throughput when the build took everything from the cache.
    if (main.report.embeddings.computed < EMBED_SAMPLE_IF_COMPUTED_UNDER) embedSample = await embeddingThroughput(pool, corpus);
  } finally {
    await pool.close();
  }
  const truth = exactTruth(corpus, vectors, o.k);
  const truthIds = truth.rows.map((rows) => rows.map((r) => corpus.ids[r]));
  o.log(`${queries.length} queries; exact float32 search in Node ${truth.msPerQuery.toFixed(1)} ms/query`);
  return { queries, vectors, truth, truthIds, embedSample };
}

/** A build that embedded fewer items than this gives no throughput figure: sample one. */
const EMBED_SAMPLE_IF_COMPUTED_UNDER = 500;
const EMBED_SAMPLE_TEXTS = 512;

function unitVector(v: ArrayLike<number>): Float32Array {
  const c = Float32Array.from(v);
  let s = 0;
  for (const x of c) s += x * x;
  const inv = 1 / Math.sqrt(s || 1);
  for (let i = 0; i < c.length; i++) c[i] *= inv;
  return c;
}

async function embeddingThroughput(pool: EmbeddingPool, corpus: Corpus): Promise<NonNullable<EmbedSample>> {
  const texts = corpus.texts.slice(0, Math.min(EMBED_SAMPLE_TEXTS, corpus.n)).map((t) => `${t} .`);
  const s0 = performance.now();
  await pool.embed(texts);
  const perSecond = texts.length / ((performance.now() - s0) / 1000);
  return { texts: texts.length, perSecond, perSecondPerCore: perSecond / pool.threads, threads: pool.threads };
}

// Same code, no cache: what a cold isolate reads and how many rounds.
async function uncachedReads(main: CachedBuild, qs: QuerySet, k: number): Promise<BenchResult["project"]["uncached"]> {
  const handle = await openIndex(main.manifest, await MemorySource.fromDir(main.dir, main.manifest), null);
  const unc = { bytes: [] as number[], rounds: [] as number[], recall: [] as number[] };
  for (let i = 0; i < qs.vectors.length; i++) {
    const { results, stats } = await searchVector(handle, qs.vectors[i], { k });
    unc.bytes.push(stats.bytes);
    unc.rounds.push(stats.roundTrips);
    unc.recall.push(recallAt(results.map((r) => r.id), qs.truthIds[i], k));
  }
  return { bytes: dist(unc.bytes), roundTrips: dist(unc.rounds), recallAt10: mean(unc.recall) };
}

const baselineRun = (o: Resolved, qs: QuerySet): BaselineRun => ({ queries: qs.vectors, truthRows: qs.truth.rows, k: o.k, repeats: o.repeats, target: o.targetRecall });

const built = (f: { buildSeconds: number | null }) => (f.buildSeconds !== null ? ` built in ${f.buildSeconds.toFixed(1)} s` : " (cached)");

// The seed's pipeline: Gaussian random projection 512→64, Annoy with 100 trees, default search.
async function seedPipeline(o: Resolved, corpus: Corpus, qs: QuerySet): Promise<BenchResult["seed"]> {
  const dim = corpus.dim;
  const project = gaussianProjection(dim, o.projectDim);
  const projected = new Float32Array(corpus.n * o.projectDim);
  for (let i = 0; i < corpus.n; i++) projected.set(project(corpus.vectors, i * dim), i * o.projectDim);
  const qp = qs.vectors.map((q) => project(q));
  const seedFile = await annoyIndexFile(projected, o.projectDim, o.annoyTrees, path.join(o.cacheRoot, "baselines"));
  o.log(`seed pipeline: annoy ${o.projectDim}-d, ${o.annoyTrees} trees${built(seedFile)}`);
  const seedBase = await annoyBaseline(seedFile, o.projectDim, [-1], { ...baselineRun(o, qs), queries: qp });
  const seed = { ...seedBase, name: "seed: RP 512→64 + Annoy", projection: `Gaussian N(0, 1/${o.projectDim}), seed 12345`, params: { trees: o.annoyTrees, dim: o.projectDim, searchK: `-1 (= ${o.annoyTrees} × k)` } };
  o.log(`seed pipeline recall@10 ${seed.points[0].recallAt10.toFixed(3)}`);
  return seed;
}

// Annoy and hnswlib on the full vectors.
async function fullVectorBaselines(o: Resolved, corpus: Corpus, qs: QuerySet): Promise<{ annoy: BaselineResult; hnsw: BaselineResult }> {
  const { dim } = corpus;
  const cacheDir = path.join(o.cacheRoot, "baselines");
  const annoyFile = await annoyIndexFile(corpus.vectors, dim, o.annoyTrees, cacheDir);
  o.log(`annoy ${dim}-d, ${o.annoyTrees} trees${built(annoyFile)}`);
  const annoy = { ...(await annoyBaseline(annoyFile, dim, o.annoySearchK, baselineRun(o, qs))), name: "Annoy (full vectors)", params: { trees: o.annoyTrees, dim } };
  o.log(`annoy: ${annoy.points.map((p) => `search_k ${p.knob} → ${p.recallAt10.toFixed(3)}`).join(", ")}`);
  const hp = { m: o.hnswM, efConstruction: o.hnswEfConstruction, seed: HNSW_SEED };
  const hnswFile = await hnswIndexFile(corpus.vectors, dim, hp, cacheDir);
  o.log(`hnsw M ${hp.m}, efConstruction ${hp.efConstruction}${built(hnswFile)}`);
  const hnsw = await hnswBaseline(hnswFile, dim, hp, o.hnswEf, baselineRun(o, qs));
  o.log(`hnsw: ${hnsw.points.map((p) => `ef ${p.knob} → ${p.recallAt10.toFixed(3)}`).join(", ")}`);
  return { annoy, hnsw };
}

const HNSW_SEED = 100;

// The curve: probes × re-rank on the main build, then other shard sizes.
async function recallCurve(o: Resolved, main: CachedBuild, qs: QuerySet): Promise<{ curve: CurvePoint[]; projectAtTarget: number | null }> {
  const { k, log } = o;
  const curve: CurvePoint[] = [];
  const defaultLeaf = DEFAULT_PARAMS.leafSize;
  curve.push(...(await sweep({ dir: main.dir, manifest: main.manifest, leafSize: defaultLeaf }, qs.vectors, qs.truthIds, { k, nprobes: o.nprobes, reranks: o.reranks, log })));
  for (const leafSize of o.leafSizes.filter((l) => l !== defaultLeaf)) {
    const b = await cachedBuild(o.corpus, { leafSize, threads: o.threads }, { cacheRoot: o.cacheRoot, quiet: true });
    log(`build leaf size ${leafSize} ${b.reused ? "reused" : "done"}: ${b.manifest.params.leaves} leaves`);
    curve.push(...(await sweep({ dir: b.dir, manifest: b.manifest, leafSize }, qs.vectors, qs.truthIds, { k, nprobes: o.nprobes, reranks: [b.manifest.params.rerank], log })));
  }
  const mainCurve = curve.filter((p) => p.leafSize === defaultLeaf && p.rerank === main.manifest.params.rerank).map((p) => ({ bytes: p.meanBytes, recall: p.recallAt10 }));
  return { curve, projectAtTarget: bytesAtRecall(mainCurve, o.targetRecall) };
}

// The project through HTTP, from measureThroughHttp.
function projectFigures(http: Http, qs: QuerySet, k: number, uncached: BenchResult["project"]["uncached"], projectAtTarget: number | null): BenchResult["project"] {
  const recall10 = http.answers.map((a, i) => recallAt(a.ids, qs.truthIds[i], k));
  const recall1 = http.answers.map((a, i) => (a.ids[0] === qs.truthIds[i][0] ? 1 : 0));
  const byKind: Record<string, number[]> = {};
  qs.queries.forEach((q, i) => (byKind[q.kind] ??= []).push(recall10[i]));
  const st = (f: (a: WireAnswer) => number) => dist(http.answers.map(f));
  return {
    recallAt1: mean(recall1),
    recallAt10: mean(recall10),
    recallAt10ByKind: Object.fromEntries(Object.entries(byKind).map(([kk, v]) => [kk, mean(v)])),
    shards: st((a) => a.stats.shards),
    records: st((a) => a.stats.records),
    bytes: st((a) => a.stats.bytes),
    fetchedBytes: st((a) => a.stats.fetchedBytes),
    roundTrips: st((a) => a.stats.roundTrips),
    uncached,
    latency: latencyFigures(http.latencyRuns),
    cold: http.cold,
    memory: http.memory,
    resident: http.resident,
    hybrid: http.hybrid,
    qps: Object.fromEntries(Object.entries(http.qps).map(([c, runs]) => [c, repeated(runs)])),
    publishSeconds: http.publishSeconds,
    bytesAtTarget: projectAtTarget,
  };
}

function exactWorkerFigures(http: Http, qs: QuerySet, k: number): BenchResult["exactWorker"] {
  const ex = http.exact;
  return {
    queries: ex.length,
    error: http.exactError,
    workerErrors: http.workerErrors.slice(0, 20),
    recallAt10: mean(ex.map((a, i) => recallAt(a.ids, qs.truthIds[i], k))),
    e2e: dist(ex.map((a) => a.e2eMs)),
    search: dist(ex.map((a) => a.searchMs)),
    bytes: mean(ex.map((a) => a.stats.bytes)),
    records: mean(ex.map((a) => a.stats.records)),
    roundTrips: mean(ex.map((a) => a.stats.roundTrips)),
  };
}

// Ratios and targets.
function ratiosOf(http: Http, exactWorker: BenchResult["exactWorker"], project: BenchResult["project"], seed: BaselineResult, annoy: BaselineResult, hnsw: BaselineResult): Record<string, number | null> {
  // Project vs exact on the same queries: the exact pass runs the first exactQueries queries.
  const sameQ = http.answers.slice(0, exactWorker.queries);
  const atTarget = project.bytesAtTarget;
  return {
    exactOverProjectSearchMsP50: exactWorker.search.p50 / dist(sameQ.map((a) => a.searchMs)).p50,
    exactOverProjectE2eMsP50: exactWorker.e2e.p50 / dist(sameQ.map((a) => a.e2eMs)).p50,
    exactOverProjectBytes: exactWorker.bytes / mean(sameQ.map((a) => a.stats.bytes)),
    annoyOverProjectBytesAtTarget: annoy.bytesAtTarget && atTarget ? annoy.bytesAtTarget / atTarget : null,
    annoyOverProjectBytesAtDefault: annoy.bytesAtTarget ? annoy.bytesAtTarget / project.bytes.mean : null,
    hnswOverProjectBytesAtTarget: hnsw.bytesAtTarget && atTarget ? hnsw.bytesAtTarget / atTarget : null,
    projectOverSeedRecallAt10: project.recallAt10 / seed.points[0].recallAt10,
  };
}

async function metaOf(o: Resolved, gitAtStart: BenchResult["meta"]["git"], corpus: Corpus, qs: QuerySet, t0: number, loadStart: number): Promise<BenchResult["meta"]> {
  const kinds: Record<string, number> = {};
  for (const q of qs.queries) kinds[q.kind] = (kinds[q.kind] ?? 0) + 1;
  return {
    date: new Date().toISOString(),
    git: gitAtStart,
    cpu: { model: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length },
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    corpus: { file: path.basename(o.corpus), sha256: createHash("sha256").update(await readFile(o.corpus)).digest("hex"), items: corpus.n },
    queries: { source: o.queriesFile ? path.basename(o.queriesFile) : "bench/queries.txt + perturbed corpus items", count: qs.queries.length, byKind: kinds },
    k: o.k,
    repeats: o.repeats,
    targetRecall: o.targetRecall,
    seconds: (performance.now() - t0) / 1000,
    load: { start: loadStart, end: loadAverage() },
  };
}

function buildFigures(main: CachedBuild, embedSample: EmbedSample): BenchResult["build"] {
  return {
    reused: main.reused,
    version: main.manifest.version,
    leafSize: DEFAULT_PARAMS.leafSize,
    params: main.manifest.params,
    seconds: main.report.seconds,
    embeddings: { ...main.report.embeddings, ...(embedSample ? { sample: embedSample } : {}) },
    bytesPerItem: main.report.bytes.perItem,
    bytes: main.report.bytes,
    peakRssBytes: main.report.peakRssBytes,
    selfCheckRecallAt10: main.report.selfCheck.recallAt10,
    selfCheck: main.report.selfCheck,
  };
}

/** What every baseline is run against: the query vectors, their exact answers (rows), and how to measure. */
interface BaselineRun {
  queries: Float32Array[];
  truthRows: number[][];
  k: number;
  repeats: number;
  target: number;
}

type IndexFile = { file: string; buildSeconds: number | null; bytes: number };

async function annoyBaseline(file: IndexFile, dim: number, searchKs: number[], { queries, truthRows, k, repeats, target }: BaselineRun): Promise<BaselineResult> {
  const native = loadNativeAnnoy(file.file, dim);
  const forest = await AnnoyForest.open(file.file, dim);
  const arrays = queries.map((q) => Array.from(q));
  const n = forest.nItems;
  const points: BaselinePoint[] = [];
  try {
    for (const sk of searchKs) {
      const answers = arrays.map((a) => native.getNNsByVector(a, k, sk, false));
      const qps = timePasses(repeats, arrays.length, () => {
        for (const a of arrays) native.getNNsByVector(a, k, sk, false);
      });
      const touches = queries.map((q) => forest.search(q, k, sk)).map((t) => ({ rows: t.rows, vectors: t.candidates, structureBytes: t.treeBytes, rounds: t.depth + 1 }));
      points.push(baselinePoint(sk, answers, qps, touches, truthRows, k, dim));
    }
  } finally {
    native.unload();
  }
  return {
    name: "Annoy",
    params: {},
    buildSeconds: file.buildSeconds,
    indexBytes: file.bytes,
    indexBytesPerItem: file.bytes / n,
    points,
    bytesAtTarget: bytesAtRecall(points.map((p) => ({ bytes: p.bytes, recall: p.recallAt10 })), target),
  };
}

async function hnswBaseline(file: IndexFile, dim: number, p: { m: number; efConstruction: number }, efs: number[], { queries, truthRows, k, repeats, target }: BaselineRun): Promise<BaselineResult> {
  const native = loadNativeHnsw(file.file, dim);
  const graph = await HnswGraph.open(file.file, dim);
  const arrays = queries.map((q) => Array.from(q));
  const points: BaselinePoint[] = [];
  for (const ef of efs) {
    native.setEf(ef);
    const answers = arrays.map((a) => native.searchKnn(a, k).neighbors);
    const qps = timePasses(repeats, arrays.length, () => {
      for (const a of arrays) native.searchKnn(a, k);
    });
    const touches = queries.map((q) => graph.search(q, k, ef)).map((t) => ({ rows: t.rows, vectors: t.visited, structureBytes: t.linkBytes, rounds: t.expansions }));
    points.push(baselinePoint(ef, answers, qps, touches, truthRows, k, dim));
  }
  return {
    name: "hnswlib",
    params: { M: p.m, efConstruction: p.efConstruction, dim },
    buildSeconds: file.buildSeconds,
    indexBytes: file.bytes,
    indexBytesPerItem: file.bytes / graph.n,
    points,
    bytesAtTarget: bytesAtRecall(points.map((pt) => ({ bytes: pt.bytes, recall: pt.recallAt10 })), target),
  };
}

/**
 * One knob setting of a baseline: recall from the native library's answers;
 * bytes and rounds from the TypeScript replay of its search (`touches`), and how
 * often the replay found the native answers.
 */
function baselinePoint(
  knob: number,
  answers: number[][],
  qps: BaselinePoint["qps"],
  touches: Array<{ rows: number[]; vectors: number; structureBytes: number; rounds: number }>,
  truthRows: number[][],
  k: number,
  dim: number,
): BaselinePoint {
  let agree = 0;
  let total = 0;
  answers.forEach((ans, i) => {
    const replay = new Set(touches[i].rows);
    for (const r of ans) {
      total++;
      if (replay.has(r)) agree++;
    }
  });
  const perQueryBytes = touches.map((t) => t.vectors * dim * Int8Array.BYTES_PER_ELEMENT + t.structureBytes);
  return {
    knob,
    recallAt10: mean(answers.map((a, i) => recallAt(a, truthRows[i], k))),
    recallAt1: mean(answers.map((a, i) => (a[0] === truthRows[i][0] ? 1 : 0))),
    qps,
    vectorsRead: mean(touches.map((t) => t.vectors)),
    bytes: mean(perQueryBytes),
    bytesP95: dist(perQueryBytes).p95,
    bytesF32: mean(touches.map((t) => t.vectors * dim * Float32Array.BYTES_PER_ELEMENT + t.structureBytes)),
    structureBytes: mean(touches.map((t) => t.structureBytes)),
    rounds: dist(touches.map((t) => t.rounds)),
    replayAgreement: total ? agree / total : 1,
  };
}
