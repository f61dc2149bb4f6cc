// `npm run build -- --corpus FILE [--out DIR]`: corpus → embeddings (every core,
// cached) → quantized k-means tree index → KV-ready blobs + manifest in DIR.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../common/cli.ts";
import { blobKeyFor } from "../../lib/index/sha256.ts";
import { FORMAT, type Manifest, type ManifestLexiconDelta, type ModelRef } from "../../lib/index/manifest.ts";
import { loadLexicalBase } from "./packing/lexical-base.ts";
import { lexicalBlobs } from "./packing/lexical-values.ts";
import { decodeShard, textToBlob, type Shard } from "../../lib/index/format.ts";
import { readRouting, shardRefs, type ReadTexts } from "../../lib/index/version.ts";
import { EMBEDDING_DIM } from "../../lib/model/embed.ts";
import { blobPath, blobReader, ensureDirs, pruneBlobs, readManifest, writeBlob, writeItemsPack } from "../artifacts/dir.ts";
import { readCorpus, type CorpusItem, type CorpusReport } from "./corpus/read-corpus.ts";
import { EmbeddingCache } from "./embedding/cache.ts";
import { embedCorpus, embedTexts, type Embedded } from "./embedding/embed-corpus.ts";
import { prepareModel, type PreparedModel } from "./embedding/node-model.ts";
import { EmbeddingPool } from "./pools/embed-pool.ts";
import { FileVectors, MemoryVectors, type VectorSource } from "./embedding/vector-source.ts";
import { RowPasses } from "./pools/row-passes.ts";
import { RemoteEmbedder, type RemoteOptions } from "./embedding/remote.ts";
import { CHECK_SAMPLE, embedCorpusRemote, type RemoteEmbedded } from "./embedding/remote-corpus.ts";
import { baseItemCount, buildIndex, DEFAULT_PARAMS, itemKey, scaleDefaults, textBlob, type BaseIndex, type BuiltIndex, type TextBlob } from "./build-index.ts";
import { pickExamples } from "./packing/examples.ts";
import { MemorySource } from "../artifacts/memory-source.ts";
import { proxyQueries } from "./check/perturb.ts";
import { cellCoverage, proxyTruth, selfCheck } from "./check/self-check.ts";
import { COVERAGE_DEPTH } from "../../lib/index/cells.ts";
import { checkValueSizes } from "./packing/value-limits.ts";
import { chooseFilterFields, describeFields, type FilterableRequest } from "./packing/filter-columns.ts";
import type { FilterField } from "../../lib/filter/values.ts";
import { DEFAULT_CACHE, DEFAULT_OUT } from "../common/paths.ts";
import { collectGarbage } from "./memory.ts";


export interface BuildOptions {
  corpus: string;
  out?: string;
  textColumn?: string;
  cacheDir?: string | null;
  /** Precomputed embeddings (embed/vectors-file.ts) instead of the model; the cache is then not used. */
  vectors?: string;
  /**
   * Embed on deployed Workers' /embed (embedding/remote-corpus.ts) instead of
   * this machine's cores, through the cache; not with `vectors`.
   */
  embedRemote?: RemoteOptions;
  threads?: number;
  leafSize?: number;
  pqM?: number;
  rerank?: number;
  /** PQ-score margin that sets how many of the `rerank` candidates a query re-ranks (lib/index/rerank-depth.ts). */
  rerankMargin?: number;
  /** Fixed probe count; otherwise the self-check picks one. */
  nprobe?: number;
  /** Centroid-score margin within which queries probe past nprobe (lib/index/leaves.ts). */
  probeMargin?: number;
  maxShardBytes?: number;
  targetRecall?: number;
  byteBudget?: number;
  checkQueries?: number;
  quiet?: boolean;
  /**
   * Extend a previous version instead of re-partitioning (incremental deploys):
   * its artifacts directory, or its routing and shards already decoded. Ignored,
   * with a log line, when the model or pqM differ or the corpus grew or shrank
   * past `maxGrowth` / `maxShrink` of the base, since old leaves would then fit badly.
   */
  base?: string | BaseIndex;
  maxGrowth?: number;
  maxShrink?: number;
  /** The KV value limit the build enforces (tests lower it). */
  maxValueBytes?: number;
  /** Which metadata columns queries can filter on (default: date-like and low-cardinality ones). */
  filterable?: FilterableRequest;
}

/**
 * recall@10 the self-check aims for, predicted on its query proxies: a margin
 * over 0.95 for queries it has not seen (docs/decisions.md#self-check-on-harder-proxies).
 */
export const DEFAULT_TARGET_RECALL = 0.97;
/**
 * Recall under which the self-check, where the round-1 cap binds, reads more
 * (a larger cap or a deeper re-rank): the goal the target's margin protects
 * (docs/decisions.md#round-1-cap-the-self-check-raises).
 */
export const DEFAULT_CAP_GOAL = 0.95;
/**
 * Mean bytes a query may read, at most, when the self-check picks nprobe and
 * raises the round-1 cap: room for a large index to reach the goal on its
 * proxies, with room left under the product's mean-bytes target for hybrid's
 * lexical reads (docs/decisions.md#round-1-cap-the-self-check-raises).
 */
export const DEFAULT_BYTE_BUDGET = 640 * 1024;
/** Self-check queries, split evenly across the proxy kinds (check/perturb.ts). */
export const DEFAULT_CHECK_QUERIES = 300;
/** A base is re-partitioned when the corpus grows by more than half of it… */
export const DEFAULT_MAX_GROWTH = 0.5;
/**
 * …or shrinks by more than a third. A shrinking extended index keeps its recall
 * and its bytes per item, but its leaves drift larger than a fresh build's; at a
 * third, the drift matches what the growth rule allows the other way
 * (docs/decisions.md#extension-thresholds).
 */
export const DEFAULT_MAX_SHRINK = 1 / 3;

/** Base shards read and decoded at once by readBase. */
const BASE_SHARDS_AT_ONCE = 4096;

/** Reads a previous build's routing and shards from its artifacts directory. */
export async function loadBase(dir: string): Promise<{ base: BaseIndex; manifest: Manifest }> {
  const manifest = await readManifest(dir);
  return { manifest, base: await readBase(manifest, blobReader(dir), dir) };
}

/** A version's routing, decoded shards and main lexicon, read through `read` (its artifacts directory, or KV for a deploy); `where` names it in errors. */
export async function readBase(manifest: Manifest, read: ReadTexts, where: string): Promise<BaseIndex> {
  const routing = await readRouting(manifest, read);
  const keys = shardRefs(routing).map((r) => r.key);
  const shards: Shard[] = [];
  // Decoded a batch at a time: a large base's shard texts are as large again as the shards.
  for (let i = 0; i < keys.length; i += BASE_SHARDS_AT_ONCE) {
    const batch = keys.slice(i, i + BASE_SHARDS_AT_ONCE);
    const texts = await read(batch);
    for (const key of batch) {
      const t = texts.get(key);
      if (t == null) throw new Error(`base index in ${where} lacks ${key}`);
      shards.push(decodeShard(textToBlob(t)));
    }
  }
  return { routing, shards, lexical: await loadLexicalBase(manifest, read) };
}

export interface BuildReport {
  version: string;
  out: string;
  items: number;
  skippedBlank: number;
  seconds: Record<string, number>;
  embeddings: {
    source: "model" | "file" | "remote";
    computed: number;
    cached: number;
    perSecond: number;
    perSecondPerThread: number;
    threads: number;
    /** With --embed-url: the remotes, what they and this machine embedded, the check, retries. */
    remote?: RemoteEmbedded["remote"];
  };
  shards: { count: number; minBytes: number; medianBytes: number; maxBytes: number };
  /** resident: the stored resident blocks (base64), 0 when the build wrote none. */
  bytes: { routing: number; shards: number; items: number; catalog: number; resident: number; manifest: number; model: number; perItem: number };
  kvValues: { largestBytes: number; largestKey: string; routingParts: number; catalogParts: number };
  selfCheck: Manifest["selfCheck"];
  /** Filterable columns, and the bytes of the values that serve filters. */
  filters: { fields: FilterField[]; tableBytes: number; attributeBytes: number; chunks: number; chunkBytes: number };
  /** The lexical index: terms, postings, values and their bytes; headBytes is what an isolate holds. */
  lexical: { terms: number; postings: number; parts: number; partBytes: number; tails: number; tailBytes: number; headBytes: number; cut: number; delta: ManifestLexicalDeltaReport | null };
  peakRssBytes: number;
}

function lexicalReport(built: BuiltIndex): BuildReport["lexical"] {
  const sum = (xs: TextBlob[]) => xs.reduce((a, x) => a + x.ref.bytes, 0);
  const l = built.lexical;
  const delta = l.deltaInfo ? { ...l.deltaInfo, values: l.delta.length, bytes: sum(l.delta) } : null;
  return { terms: l.terms, postings: l.postings, parts: l.parts.length, partBytes: sum(l.parts), tails: l.tails.length, tailBytes: sum(l.tails), headBytes: l.headBytes, cut: l.cut, delta };
}

function deltaLine(d: ManifestLexicalDeltaReport | null): string {
  return d ? `, a base's lexicon kept with a delta of ${d.items} items (${d.terms} terms, ${d.postings} postings) removing ${d.removed}, in ${d.values} value(s) of ${d.bytes} B` : "";
}

/** A kept base lexicon's delta: what it holds, and its stored values and bytes. */
type ManifestLexicalDeltaReport = Omit<ManifestLexiconDelta, "parts"> & { values: number; bytes: number };

export async function fileSha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Seconds per named stage, in order. */
class Stages {
  readonly seconds: Record<string, number> = {};
  private t = performance.now();
  lap(name: string): void {
    collectGarbage();
    const now = performance.now();
    this.seconds[name] = +((now - this.t) / 1000).toFixed(2);
    this.t = now;
  }
}

interface Corpus {
  items: CorpusItem[];
  report: CorpusReport;
  sha256: string;
}

interface ModelValues {
  ref: ModelRef;
  topology: TextBlob;
  vocab: TextBlob;
  weights: Uint8Array;
}

/** corpus → embeddings → index → self-check → manifest → files, one named step each. */
export async function runBuild(o: BuildOptions): Promise<{ manifest: Manifest; report: BuildReport }> {
  const out = path.resolve(o.out ?? DEFAULT_OUT);
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };
  const stages = new Stages();
  const corpus = await readCorpusStep(o, log);
  const filterFields = chooseFilterFields(corpus.items, corpus.report.metaColumns, o.filterable ?? { kind: "default" });
  log(`filterable: ${filterFields.length ? describeFields(filterFields).join(", ") : "none"}`);
  await prepareOut(out);
  stages.lap("read");
  const model = await prepareModel();
  const pool = new EmbeddingPool(o.threads);
  const cache = o.cacheDir === null ? null : new EmbeddingCache(o.cacheDir ?? DEFAULT_CACHE, model.modelId);
  // Records go to a pack beside the version they will replace, renamed over it once all is written.
  const pack = path.join(out, "items.pack.tmp");
  let vectors: VectorSource | undefined;
  try {
    const embedded = await embedStep(o, corpus.items, model.modelId, cache, pool, log);
    stages.lap("embed");
    vectors = embedded.source;
    const scale = scaleDefaults(corpus.items.length);
    const leafSize = o.leafSize ?? scale.leafSize;
    const base = await chooseBase(o, model.modelId, corpus.items.length, log);
    const built = await buildIndex(vectors, EMBEDDING_DIM, corpus.items, { leafSize, pqM: o.pqM, rerank: o.rerank, rerankMargin: o.rerankMargin, nprobe: o.nprobe ?? DEFAULT_PARAMS.nprobe, probeMargin: o.probeMargin, maxShardBytes: o.maxShardBytes, threads: o.threads, filterFields, recordsPack: pack, chunkScale: scale.chunkScale, valuesDir: out }, (s) => log(`  index ${s}`), base);
    checkValueSizes(built, leafSize, o.maxValueBytes);
    stages.lap("index");
    const modelValues = modelBlobs(model);
    const manifest = draftManifest(o, corpus, built, modelValues.ref);
    await checkRecall(o, manifest, built, vectors, corpus.items, { pool, cache }, log);
    stages.lap("self-check");
    sealManifest(manifest, built);
    const manifestText = await writeArtifacts(out, manifest, built, modelValues, vectors, o.vectors);
    stages.lap("write");
    const report = buildReport(out, manifest, manifestText, corpus, built, embedded, pool.threads, o.vectors ? "file" : o.embedRemote ? "remote" : "model", stages.seconds, filterFields);
    await writeFile(path.join(out, "report.json"), JSON.stringify(report, null, 2));
    return { manifest, report };
  } finally {
    await pool.close();
    await vectors?.close();
    await rm(pack, { force: true });
  }
}

/** What embedding did, without its vectors: those are read through `source`. */
type EmbedCounts = Omit<Embedded, "vectors"> | Omit<RemoteEmbedded, "vectors">;
type Sourced = EmbedCounts & { source: VectorSource };

/** The vectors: from --vectors (read a chunk at a time, never whole), else through the cache from this machine's cores or from deployed Workers. */
async function embedStep(o: BuildOptions, items: CorpusItem[], modelId: string, cache: EmbeddingCache | null, pool: EmbeddingPool, log: (s: string) => void): Promise<Sourced> {
  if (o.vectors && o.embedRemote) throw new UsageError("--vectors and --embed-url exclude each other");
  if (o.vectors) return { source: await FileVectors.open(o.vectors, items.length, EMBEDDING_DIM), computed: 0, cached: 0, seconds: 0 };
  const inMemory = ({ vectors, ...counts }: Embedded | RemoteEmbedded): Sourced => ({ ...counts, source: new MemoryVectors(vectors, EMBEDDING_DIM) });
  if (!o.embedRemote) return inMemory(await embedCorpus(items, EMBEDDING_DIM, cache, pool, log, o.quiet));
  const remote = new RemoteEmbedder(
    {
      ...o.embedRemote,
      onRetry: (r) => {
        o.embedRemote?.onRetry?.(r);
        if (!o.quiet) log(`${process.stderr.isTTY ? "\n" : ""}  retry ${r.attempt} on ${r.url} in ~${(r.waitMs / 1000).toFixed(1)} s: ${r.reason}`);
      },
    },
    modelId,
  );
  return inMemory(await embedCorpusRemote(items, EMBEDDING_DIM, cache, pool, remote, log, o.quiet));
}

async function readCorpusStep(o: BuildOptions, log: (s: string) => void): Promise<Corpus> {
  const report = {} as CorpusReport;
  const items: CorpusItem[] = [];
  for await (const item of readCorpus(o.corpus, { textColumn: o.textColumn }, report)) items.push(item);
  if (report.skippedBlank.length) {
    const shown = report.skippedBlank.slice(0, 10).join(", ");
    log(`skipped ${report.skippedBlank.length} blank item(s), ids: ${shown}${report.skippedBlank.length > 10 ? ", …" : ""}`);
  }
  log(`corpus ${o.corpus}: ${items.length} items (${report.format}${report.textColumn ? `, text column "${report.textColumn}"` : ""})`);
  return { items, report, sha256: await fileSha256(o.corpus) };
}

/** An unusable --out fails now, not after the embeddings and the index. */
async function prepareOut(out: string): Promise<void> {
  try {
    await ensureDirs(out);
  } catch (e) {
    throw new UsageError(`cannot write to --out ${out}: ${(e as Error).message}`);
  }
}

/** The base to extend, if any and if it still fits the corpus (BuildOptions.base). */
async function chooseBase(o: BuildOptions, modelId: string, n: number, log: (s: string) => void): Promise<BaseIndex | undefined> {
  if (!o.base) return undefined;
  // A base named by the caller that cannot be read is an error, not a reason to partition anew: every value would change.
  const b = typeof o.base === "string" ? await loadBase(o.base).catch((e: Error) => {
    throw new UsageError(`--extend ${o.base}: its index cannot be read (${e.message}); build without --extend to partition anew`);
  }) : { base: o.base, manifest: undefined };
  const pqM = o.pqM ?? DEFAULT_PARAMS.pqM;
  const baseItems = baseItemCount(b.base);
  const maxGrowth = o.maxGrowth ?? DEFAULT_MAX_GROWTH;
  const maxShrink = o.maxShrink ?? DEFAULT_MAX_SHRINK;
  if (b.manifest && b.manifest.model.id !== modelId) log(`not extending the base: it was built with ${b.manifest.model.id}`);
  else if (b.base.routing.pqM !== pqM) log(`not extending the base: its pqM is ${b.base.routing.pqM}, not ${pqM}`);
  else if (n > baseItems * (1 + maxGrowth)) log(`not extending the base: ${baseItems} → ${n} items is too much growth; re-partitioning`);
  else if (n < baseItems * (1 - maxShrink)) log(`not extending the base: ${baseItems} → ${n} items shrinks it too much; re-partitioning`);
  else return b.base;
  return undefined;
}

function modelBlobs(model: PreparedModel): ModelValues {
  const topology = textBlob(JSON.stringify(model.modelJson));
  const vocab = textBlob(model.vocabJson);
  const weights = { key: blobKeyFor(model.weightsSha256), bytes: model.weightData.byteLength, sha256: model.weightsSha256 };
  return {
    ref: { id: model.modelId, dim: EMBEDDING_DIM, topology: topology.ref, weights, vocab: vocab.ref },
    topology,
    vocab,
    weights: new Uint8Array(model.weightData),
  };
}

function draftManifest(o: BuildOptions, corpus: Corpus, built: BuiltIndex, model: ModelRef): Manifest {
  return {
    format: FORMAT,
    version: "",
    createdAt: new Date().toISOString(),
    model,
    dim: EMBEDDING_DIM,
    items: corpus.items.length,
    params: built.params,
    routing: built.routing.map((p) => p.ref),
    catalog: built.catalog.map((p) => p.ref),
    totals: { indexBytes: 0, itemBytes: 0, modelBytes: 0, shards: 0, shardBytes: 0, bytesPerItem: 0, kvValues: 0 },
    selfCheck: { queries: 0, k: 10, recallAt10: 0, meanBytes: 0, maxBytes: 0, roundTrips: 0, curve: [] },
    corpus: {
      file: path.basename(o.corpus),
      sha256: corpus.sha256,
      format: corpus.report.format,
      textColumn: corpus.report.textColumn,
      metaColumns: corpus.report.metaColumns,
      skippedBlank: corpus.report.skippedBlank.length,
    },
    examples: pickExamples(corpus.items.map((i) => i.text)),
    ...(built.filters ? { filters: { fields: built.filters.fields, table: built.filters.table.map((p) => p.ref), ranges: built.filters.ranges } } : {}),
    ...(built.resident ? { resident: { blocks: built.resident.blocks.map((b) => b.ref), items: corpus.items.length, bytes: built.resident.bytes } } : {}),
    lexical: {
      head: built.lexical.head.map((p) => p.ref),
      terms: built.lexical.terms,
      parts: built.lexical.parts.length,
      tails: built.lexical.tails.length,
      cut: built.lexical.cut,
      ...(built.lexical.deltaInfo ? { delta: { parts: built.lexical.delta.map((p) => p.ref), ...built.lexical.deltaInfo } } : {}),
    },
  };
}

/**
 * Recall on the query proxies (check/perturb.ts: perturbed items and word
 * subsets embedded like real queries, held-out items' own vectors) with the
 * Worker's search code; picks nprobe.
 */
async function checkRecall(
  o: BuildOptions,
  manifest: Manifest,
  built: BuiltIndex,
  vectors: VectorSource,
  items: CorpusItem[],
  embedder: { pool: EmbeddingPool; cache: EmbeddingCache | null },
  log: (s: string) => void,
): Promise<void> {
  const proxies = proxyQueries(
    items.map((i) => i.text),
    o.checkQueries ?? DEFAULT_CHECK_QUERIES,
  );
  const texted = proxies.filter((p) => p.text !== undefined);
  const embedded = await embedTexts(
    texted.map((p) => p.text!),
    EMBEDDING_DIM,
    embedder.cache,
    embedder.pool,
  );
  const byProxy = new Map(texted.map((p, i) => [p, embedded[i]]));
  const queries = await Promise.all(proxies.map(async (p) => byProxy.get(p) ?? (await vectors.read(p.row, p.row + 1)).slice()));
  const exclude = proxies.map((p) => (p.kind === "held-out" ? p.row : undefined));
  const passes = RowPasses.open(vectors, o.threads);
  let deep: number[][];
  try {
    deep = await proxyTruth(passes, queries, exclude, Math.max(manifest.selfCheck.k, built.filters ? COVERAGE_DEPTH : 0));
  } finally {
    await passes.close();
  }
  const source = await MemorySource.ofBuilt(built);
  const truth = deep.map((rows) => rows.slice(0, manifest.selfCheck.k));
  // The mean the Worker sizes a filtered round 2 with (filtered-search.ts): the manifest's item bytes per item.
  const meanRecordBytes = storedItemBytes(built) / Math.max(1, manifest.items);
  const { nprobe, maxShardBytes, rerank, check } = await selfCheck(
    { manifest, source, ids: items.map((i) => i.id), queries, truth, kinds: proxies.map((p) => p.kind), exclude },
    { targetRecall: o.targetRecall ?? DEFAULT_TARGET_RECALL, byteBudget: o.byteBudget ?? DEFAULT_BYTE_BUDGET, fixedNprobe: o.nprobe, fixedCap: o.maxShardBytes !== undefined, fixedRerank: o.rerank !== undefined, capGoal: DEFAULT_CAP_GOAL, meanRecordBytes },
  );
  manifest.params.nprobe = nprobe;
  manifest.params.rerank = rerank;
  if (maxShardBytes !== undefined) manifest.params.maxShardBytes = maxShardBytes;
  manifest.selfCheck = check;
  if (built.filters && manifest.filters) manifest.filters.cellCoverage = await cellCoverage(manifest, source, queries, deep, built.filters.cellOf);
  log(`self-check: recall@10 ${check.recallAt10.toFixed(3)} (${kindsLine(check)}) at nprobe ${nprobe}, rerank ${rerank}, round-1 cap ${maxShardBytes === undefined ? "none" : `${Math.round(maxShardBytes / 1024)} KB`}, ${Math.round(check.meanBytes / 1024)} KB/query, ${check.roundTrips} KV rounds`);
}

/** "perturbed 0.981, words 0.962, …": each proxy kind's recall@10 at the chosen nprobe. */
export function kindsLine(c: Manifest["selfCheck"]): string {
  return Object.entries(c.byKind ?? {})
    .map(([kind, v]) => `${kind} ${v.recallAt10.toFixed(3)}`)
    .join(", ");
}

/** Stored bytes of every item record (manifest totals.itemBytes). */
function storedItemBytes(built: BuiltIndex): number {
  return built.recordBytes.reduce((a, b) => a + b, 0);
}

/** Totals, then the version: a hash of everything but createdAt, so equal inputs give equal versions. */
function sealManifest(m: Manifest, built: BuiltIndex): void {
  const sum = (xs: Array<{ ref: { bytes: number } }>) => xs.reduce((a, x) => a + x.ref.bytes, 0);
  const itemBytes = storedItemBytes(built);
  const shardBytes = sum(built.shards);
  const f = built.filters;
  const filterValues = f ? [...f.table, ...f.attributes, ...f.chunks] : [];
  const lexicalValues = lexicalBlobs(built.lexical);
  const indexBytes = sum(built.routing) + shardBytes + sum(built.catalog) + sum(filterValues) + sum(lexicalValues);
  m.totals = {
    indexBytes,
    itemBytes,
    modelBytes: m.model.topology.bytes + m.model.weights.bytes + m.model.vocab.bytes,
    shards: built.shards.length,
    shardBytes,
    bytesPerItem: Math.round(((indexBytes + itemBytes) / m.items) * 10) / 10,
    ...(built.resident ? { residentBytes: sum(built.resident.blocks) } : {}),
    // model (3) + routing and catalog parts + shards + filter values + resident blocks + lexical values + records + manifest
    kvValues: 3 + built.routing.length + built.catalog.length + built.shards.length + filterValues.length + (built.resident?.blocks.length ?? 0) + lexicalValues.length + built.recordBytes.length + 1,
  };
  const { createdAt: _c, version: _v, ...hashed } = m;
  m.version = createHash("sha256").update(JSON.stringify(hashed)).digest("hex").slice(0, 16);
}

async function writeArtifacts(out: string, manifest: Manifest, built: BuiltIndex, model: ModelValues, vectors: VectorSource, vectorsFile: string | undefined): Promise<string> {
  const f = built.filters;
  const filterValues = f ? [...f.table, ...f.attributes, ...f.chunks] : [];
  const lexicalValues = lexicalBlobs(built.lexical);
  for (const b of [...built.routing, ...built.catalog, ...built.shards, ...filterValues, ...(built.resident?.blocks ?? []), ...lexicalValues, model.topology, model.vocab]) {
    // Those written out as they were made are in place already.
    if (b.file !== blobPath(out, b.ref.key)) await writeBlob(out, b.ref, b.text);
  }
  await writeBlob(out, model.ref.weights, model.weights);
  if (built.recordsPack) await rename(built.recordsPack, path.join(out, "items.pack"));
  else await writeItemsPack(out, built.records);
  await writeVectors(path.join(out, "vectors.f32"), vectors, vectorsFile);
  const manifestText = JSON.stringify(manifest, null, 1);
  await writeFile(path.join(out, "manifest.json"), manifestText);
  await pruneBlobs(out, manifest);
  return manifestText;
}

/**
 * The build's vectors beside its index, for exact search: a hard link to a
 * --vectors file where the file system allows, else a copy. The old file is
 * removed first, never written through: it may be a link to a user's file.
 */
async function writeVectors(file: string, vectors: VectorSource, from: string | undefined): Promise<void> {
  if (from && path.resolve(from) === path.resolve(file)) return;
  await rm(file, { force: true });
  if (vectors.whole) return writeFile(file, new Uint8Array(vectors.whole.buffer, vectors.whole.byteOffset, vectors.whole.byteLength));
  if (!from) throw new Error("vectors read from a file need that file");
  await link(from, file).catch(() => copyFile(from, file));
}

function buildReport(
  out: string,
  manifest: Manifest,
  manifestText: string,
  corpus: Corpus,
  built: BuiltIndex,
  embedded: EmbedCounts,
  threads: number,
  source: BuildReport["embeddings"]["source"],
  seconds: Record<string, number>,
  filterFields: FilterField[],
): BuildReport {
  const n = corpus.items.length;
  const sizes = built.shards.map((s) => s.ref.bytes).sort((a, b) => a - b);
  const sum = (xs: TextBlob[]) => xs.reduce((a, x) => a + x.ref.bytes, 0);
  const values = [...built.routing, ...built.catalog, ...built.shards, ...(built.resident?.blocks ?? [])].map((b) => ({ key: b.ref.key, bytes: b.ref.bytes }));
  const largest = values.reduce((a, b) => (b.bytes > a.bytes ? b : a), largestRecord(built));
  const manifestBytes = Buffer.byteLength(manifestText);
  const indexSeconds = Object.fromEntries(Object.entries(built.timings).map(([k, v]) => [`index.${k}`, +v.toFixed(2)]));
  return {
    version: manifest.version,
    out,
    items: n,
    skippedBlank: corpus.report.skippedBlank.length,
    seconds: { ...seconds, ...indexSeconds, total: +Object.values(seconds).reduce((a, b) => a + b, 0).toFixed(2) },
    embeddings: {
      source,
      computed: embedded.computed,
      cached: embedded.cached,
      perSecond: embedded.seconds ? +(embedded.computed / embedded.seconds).toFixed(1) : 0,
      perSecondPerThread: embedded.seconds && source === "model" ? +(embedded.computed / embedded.seconds / threads).toFixed(1) : 0,
      threads,
      ...("remote" in embedded ? { remote: embedded.remote } : {}),
    },
    shards: { count: sizes.length, minBytes: sizes[0], medianBytes: sizes[sizes.length >> 1], maxBytes: sizes[sizes.length - 1] },
    bytes: {
      routing: sum(built.routing),
      shards: sum(built.shards),
      items: manifest.totals.itemBytes,
      catalog: sum(built.catalog),
      resident: sum(built.resident?.blocks ?? []),
      manifest: manifestBytes,
      model: manifest.totals.modelBytes,
      perItem: +((manifest.totals.indexBytes + manifest.totals.itemBytes + manifestBytes) / n).toFixed(1),
    },
    kvValues: { largestBytes: largest.bytes, largestKey: largest.key, routingParts: built.routing.length, catalogParts: built.catalog.length },
    selfCheck: manifest.selfCheck,
    filters: {
      fields: filterFields,
      tableBytes: sum(built.filters?.table ?? []),
      attributeBytes: sum(built.filters?.attributes ?? []),
      chunks: built.filters?.chunks.length ?? 0,
      chunkBytes: sum(built.filters?.chunks ?? []),
    },
    lexical: lexicalReport(built),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

function largestRecord(built: BuiltIndex): { key: string; bytes: number } {
  let row = 0;
  built.recordBytes.forEach((b, i) => {
    if (b > built.recordBytes[row]) row = i;
  });
  return { key: itemKey(built.keyBytes, row), bytes: built.recordBytes[row] ?? 0 };
}

function embeddingsLine(e: BuildReport["embeddings"]): string {
  if (e.source === "file") return `embeddings       read from --vectors`;
  if (!e.remote) return `embeddings       ${e.computed} computed (${e.perSecond}/s on ${e.threads} threads, ${e.perSecondPerThread}/s each), ${e.cached} cached`;
  const r = e.remote;
  const sum = (f: (s: (typeof r.stats)[number]) => number) => r.stats.reduce((a, s) => a + f(s), 0);
  return (
    `embeddings       ${e.computed} computed (${e.perSecond}/s): ${r.embedded} on ${r.urls.length} remote(s), ${r.local} here (check sample${r.local > CHECK_SAMPLE ? ", texts too long for the remote" : ""}); ${e.cached} cached` +
    (r.checkMinCosine.length ? `; check: lowest cosine ${Math.min(...r.checkMinCosine).toFixed(6)}` : "") +
    `; retried: ${sum((s) => s.rateLimited)} × 429, ${sum((s) => s.serverErrors)} × 5xx, ${sum((s) => s.networkErrors)} network`
  );
}

export function reportLines(r: BuildReport): string[] {
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  const lines = [
    `index ${r.version} → ${r.out}`,
    `items            ${r.items}${r.skippedBlank ? ` (${r.skippedBlank} blank skipped)` : ""}`,
    `seconds          ${Object.entries(r.seconds).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    embeddingsLine(r.embeddings),
    `shards           ${r.shards.count}, size min/median/max ${kb(r.shards.minBytes)} / ${kb(r.shards.medianBytes)} / ${kb(r.shards.maxBytes)}`,
    `stored bytes     routing ${kb(r.bytes.routing)}, shards ${kb(r.bytes.shards)}, items ${kb(r.bytes.items)}, catalog ${kb(r.bytes.catalog)}; ${r.bytes.perItem} B/item (model ${kb(r.bytes.model)} not counted)${r.bytes.resident ? `; resident copy of the records ${kb(r.bytes.resident)}` : ""}`,
    `KV values        largest ${kb(r.kvValues.largestBytes)} (${r.kvValues.largestKey}); routing in ${r.kvValues.routingParts} part(s), catalog in ${r.kvValues.catalogParts}`,
    `self-check       recall@10 ${r.selfCheck.recallAt10.toFixed(3)} on ${r.selfCheck.queries} query proxies (${kindsLine(r.selfCheck)}), ${kb(r.selfCheck.meanBytes)} mean / ${kb(r.selfCheck.maxBytes)} max per query, ${r.selfCheck.roundTrips} KV rounds`,
    `filterable       ${r.filters.fields.length ? `${describeFields(r.filters.fields).join(", ")}; table ${kb(r.filters.tableBytes)}, leaf attributes ${kb(r.filters.attributeBytes)}, ${r.filters.chunks} column chunks ${kb(r.filters.chunkBytes)}` : "none (--filterable COL,… to declare)"}`,
    `lexical          ${r.lexical.terms} terms, ${r.lexical.postings} postings; ${r.lexical.parts} lexicon parts ${kb(r.lexical.partBytes)}, ${r.lexical.tails} tails ${kb(r.lexical.tailBytes)}; head ${kb(r.lexical.headBytes)} in memory${deltaLine(r.lexical.delta)}`,
    `peak RSS         ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  ];
  return lines;
}
