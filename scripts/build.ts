// `npm run build -- --corpus FILE [--out DIR]`: corpus → embeddings (every core,
// cached) → quantized k-means tree index → KV-ready blobs + manifest in DIR.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { runCli, UsageError } from "./cli.ts";
import { blobKeyFor } from "../lib/index/sha256.ts";
import { FORMAT, type Manifest, type ModelRef } from "../lib/index/manifest.ts";
import { EMBEDDING_DIM } from "../lib/model/embed.ts";
import { ensureDirs, FileSource, pruneBlobs, readManifest, writeBlob, writeItemsPack } from "./artifacts.ts";
import { CorpusError, readCorpus, type CorpusItem, type CorpusReport } from "./corpus/read-corpus.ts";
import { EmbeddingCache, textHash } from "./embed/cache.ts";
import { prepareModel } from "./embed/node-model.ts";
import { EmbeddingPool } from "./embed/pool.ts";
import { buildIndex, DEFAULT_PARAMS, textBlob, type BaseIndex } from "./index/build-index.ts";
import { decodeRouting, decodeShard, textToBlob } from "../lib/index/format.ts";
import { MemorySource } from "./index/memory-source.ts";
import { sampleQueries } from "./index/perturb.ts";
import { selfCheck } from "./index/self-check.ts";
import { Progress } from "./progress.ts";

export { UsageError };

export const PROJECT_ROOT = path.resolve(new URL("..", import.meta.url).pathname);
export const DEFAULT_OUT = path.join(PROJECT_ROOT, "index-artifacts");
export const DEFAULT_CACHE = path.join(PROJECT_ROOT, ".cache", "embeddings");

export interface BuildOptions {
  corpus: string;
  out?: string;
  textColumn?: string;
  cacheDir?: string | null;
  threads?: number;
  leafSize?: number;
  pqM?: number;
  rerank?: number;
  /** Fixed probe count; otherwise the self-check picks one. */
  nprobe?: number;
  maxShardBytes?: number;
  targetRecall?: number;
  byteBudget?: number;
  checkQueries?: number;
  quiet?: boolean;
  /**
   * Extend a previous version instead of re-partitioning (incremental deploys):
   * its artifacts directory, or its routing and shards already decoded. Ignored,
   * with a log line, when the model or pqM differ or the corpus grew by more than
   * `maxGrowth` (default 0.5) of the base, since old leaves would then fit badly.
   */
  base?: string | BaseIndex;
  maxGrowth?: number;
}

/** Reads a previous build's routing and shards from its artifacts directory. */
export async function loadBase(dir: string): Promise<{ base: BaseIndex; manifest: Manifest }> {
  const manifest = await readManifest(dir);
  const source = await FileSource.open(dir);
  const texts = await source.getTexts([manifest.routing.key, ...manifest.shards.map((s) => s.key)]);
  const text = (key: string) => {
    const t = texts.get(key);
    if (t == null) throw new Error(`base index in ${dir} lacks ${key}`);
    return textToBlob(t);
  };
  return { manifest, base: { routing: decodeRouting(text(manifest.routing.key)), shards: manifest.shards.map((s) => decodeShard(text(s.key))) } };
}

export interface BuildReport {
  version: string;
  out: string;
  items: number;
  skippedBlank: number;
  seconds: Record<string, number>;
  embeddings: { computed: number; cached: number; perSecond: number; perSecondPerThread: number; threads: number };
  shards: { count: number; minBytes: number; medianBytes: number; maxBytes: number };
  bytes: { routing: number; shards: number; items: number; catalog: number; manifest: number; model: number; perItem: number };
  selfCheck: Manifest["selfCheck"];
  peakRssBytes: number;
}

export async function fileSha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export async function runBuild(o: BuildOptions): Promise<{ manifest: Manifest; report: BuildReport }> {
  const out = path.resolve(o.out ?? DEFAULT_OUT);
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };
  const seconds: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    seconds[name] = +((now - t) / 1000).toFixed(2);
    t = now;
  };

  // 1. Corpus
  const corpusReport = {} as CorpusReport;
  const items: CorpusItem[] = [];
  for await (const item of readCorpus(o.corpus, { textColumn: o.textColumn }, corpusReport)) items.push(item);
  const corpusSha = await fileSha256(o.corpus);
  if (corpusReport.skippedBlank.length) {
    const shown = corpusReport.skippedBlank.slice(0, 10).join(", ");
    log(`skipped ${corpusReport.skippedBlank.length} blank item(s), ids: ${shown}${corpusReport.skippedBlank.length > 10 ? ", …" : ""}`);
  }
  log(`corpus ${o.corpus}: ${items.length} items (${corpusReport.format}${corpusReport.textColumn ? `, text column "${corpusReport.textColumn}"` : ""})`);
  // An unusable --out fails now, not after the embeddings and the index.
  try {
    await ensureDirs(out);
  } catch (e) {
    throw new UsageError(`cannot write to --out ${out}: ${(e as Error).message}`);
  }
  lap("read");

  // 2. Embeddings, cache first
  const model = await prepareModel();
  const n = items.length;
  const dim = EMBEDDING_DIM;
  const vectors = new Float32Array(n * dim);
  const cache = o.cacheDir === null ? null : new EmbeddingCache(o.cacheDir ?? DEFAULT_CACHE, model.modelId);
  const hashes = items.map((it) => textHash(it.text));
  const wanted = new Map<string, number[]>();
  hashes.forEach((h, i) => {
    const rows = wanted.get(h);
    if (rows) rows.push(i);
    else wanted.set(h, [i]);
  });
  const filled = cache ? await cache.lookup(wanted, vectors) : new Set<number>();
  // One embedding per distinct missing text.
  const missingTexts: string[] = [];
  const missingRows: number[] = [];
  const missingHashes: string[] = [];
  for (const [h, rows] of wanted) {
    if (filled.has(rows[0])) continue;
    missingTexts.push(items[rows[0]].text);
    missingRows.push(rows[0]);
    missingHashes.push(h);
  }
  const pool = new EmbeddingPool(o.threads);
  let embedSeconds = 0;
  try {
    if (missingTexts.length) {
      log(`embedding ${missingTexts.length} new text(s) on ${pool.threads} thread(s); ${n - missingRows.length - (n - wanted.size)} from cache`);
      await pool.warmUp();
      const progress = new Progress("embed", missingTexts.length);
      const t0 = performance.now();
      await pool.embedInto(missingTexts, vectors, missingRows, { onProgress: (d) => !o.quiet && progress.update(d) });
      embedSeconds = (performance.now() - t0) / 1000;
      for (let j = 0; j < missingRows.length; j++) {
        const src = vectors.subarray(missingRows[j] * dim, (missingRows[j] + 1) * dim);
        for (const r of wanted.get(missingHashes[j])!) if (r !== missingRows[j]) vectors.set(src, r * dim);
      }
      await cache?.append(missingHashes.map((hash, j) => ({ hash, vector: vectors.slice(missingRows[j] * dim, (missingRows[j] + 1) * dim) })));
    } else log(`all ${n} embeddings from cache`);
    lap("embed");

    // 3. Index
    let base: BaseIndex | undefined;
    if (o.base) {
      const b = typeof o.base === "string" ? await loadBase(o.base).catch((e: Error) => (log(`not extending ${o.base}: ${e.message}`), undefined)) : { base: o.base, manifest: undefined };
      const pqM = o.pqM ?? DEFAULT_PARAMS.pqM;
      if (b && b.manifest && b.manifest.model.id !== model.modelId) log(`not extending the base: it was built with ${b.manifest.model.id}`);
      else if (b && b.base.routing.pqM !== pqM) log(`not extending the base: its pqM is ${b.base.routing.pqM}, not ${pqM}`);
      else if (b) {
        const baseItems = b.base.shards.reduce((a, s) => a + s.count, 0);
        if (n > baseItems * (1 + (o.maxGrowth ?? 0.5))) log(`not extending the base: ${baseItems} → ${n} items is too much growth; re-partitioning`);
        else base = b.base;
      }
    }
    const built = buildIndex(vectors, dim, items, { leafSize: o.leafSize, pqM: o.pqM, rerank: o.rerank, nprobe: o.nprobe ?? DEFAULT_PARAMS.nprobe, maxShardBytes: o.maxShardBytes }, (s) => log(`  index ${s}`), base);
    lap("index");

    // 4. Model blobs and a manifest draft for the self-check
    const modelBlobs = {
      topology: textBlob(JSON.stringify(model.modelJson)),
      vocab: textBlob(model.vocabJson),
    };
    const weightsRef = {
      key: blobKeyFor(model.weightsSha256),
      bytes: model.weightData.byteLength,
      sha256: model.weightsSha256,
    };
    const modelRef: ModelRef = { id: model.modelId, dim, weightsSha256: model.weightsSha256, topology: modelBlobs.topology.ref, weights: weightsRef, vocab: modelBlobs.vocab.ref };
    const itemBytes = built.records.reduce((a, r) => a + r.bytes, 0);
    const shardBytes = built.shards.reduce((a, s) => a + s.ref.bytes, 0);
    const draft: Manifest = {
      format: FORMAT,
      version: "",
      createdAt: new Date().toISOString(),
      model: modelRef,
      dim,
      items: n,
      params: built.params,
      routing: built.routing.ref,
      shards: built.shards.map((s) => s.ref),
      catalog: built.catalog.ref,
      totals: { indexBytes: 0, itemBytes, modelBytes: 0, bytesPerItem: 0, kvValues: 0 },
      selfCheck: { queries: 0, k: 10, recallAt10: 0, meanBytes: 0, maxBytes: 0, roundTrips: 0, curve: [] },
      corpus: {
        file: path.basename(o.corpus),
        sha256: corpusSha,
        format: corpusReport.format,
        textColumn: corpusReport.textColumn,
        metaColumns: corpusReport.metaColumns,
        skippedBlank: corpusReport.skippedBlank.length,
      },
    };

    // 5. Self-check with perturbed items, embedded like real queries
    const sample = sampleQueries(
      items.map((i) => i.text),
      o.checkQueries ?? 200,
    );
    const queries = await pool.embed(sample.map((s) => s.text));
    const { nprobe, check } = await selfCheck(
      { manifest: draft, source: MemorySource.fromBuilt(built), vectors, dim, ids: items.map((i) => i.id), queries },
      { targetRecall: o.targetRecall ?? 0.97, byteBudget: o.byteBudget ?? 480 * 1024, fixedNprobe: o.nprobe },
    );
    draft.params.nprobe = nprobe;
    draft.selfCheck = check;
    log(`self-check: recall@10 ${check.recallAt10.toFixed(3)} at nprobe ${nprobe}, ${Math.round(check.meanBytes / 1024)} KB/query, ${check.roundTrips} KV rounds`);
    lap("self-check");

    // 6. Totals, version, files
    const modelBytes = modelRef.topology.bytes + modelRef.weights.bytes + modelRef.vocab.bytes;
    const indexBytes = built.routing.ref.bytes + shardBytes + built.catalog.ref.bytes;
    draft.totals = {
      indexBytes,
      itemBytes,
      modelBytes,
      bytesPerItem: Math.round(((indexBytes + itemBytes) / n) * 10) / 10,
      kvValues: 3 + 2 + built.shards.length + n + 1,
    };
    const { createdAt: _c, version: _v, ...hashed } = draft;
    draft.version = createHash("sha256").update(JSON.stringify(hashed)).digest("hex").slice(0, 16);
    const manifest = draft;

    await writeBlob(out, built.routing.ref, built.routing.text);
    await writeBlob(out, built.catalog.ref, built.catalog.text);
    for (const s of built.shards) await writeBlob(out, s.ref, s.text);
    await writeBlob(out, modelBlobs.topology.ref, modelBlobs.topology.text);
    await writeBlob(out, modelBlobs.vocab.ref, modelBlobs.vocab.text);
    await writeBlob(out, weightsRef, new Uint8Array(model.weightData));
    await writeItemsPack(out, built.records);
    await writeFile(path.join(out, "vectors.f32"), new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
    const manifestText = JSON.stringify(manifest, null, 1);
    await writeFile(path.join(out, "manifest.json"), manifestText);
    await pruneBlobs(out, manifest);
    lap("write");

    const sizes = built.shards.map((s) => s.ref.bytes).sort((a, b) => a - b);
    const report: BuildReport = {
      version: manifest.version,
      out,
      items: n,
      skippedBlank: corpusReport.skippedBlank.length,
      seconds: { ...seconds, ...Object.fromEntries(Object.entries(built.timings).map(([k, v]) => [`index.${k}`, +v.toFixed(2)])), total: +Object.values(seconds).reduce((a, b) => a + b, 0).toFixed(2) },
      embeddings: {
        computed: missingTexts.length,
        cached: n - missingRows.length,
        perSecond: embedSeconds ? +(missingTexts.length / embedSeconds).toFixed(1) : 0,
        perSecondPerThread: embedSeconds ? +(missingTexts.length / embedSeconds / pool.threads).toFixed(1) : 0,
        threads: pool.threads,
      },
      shards: { count: sizes.length, minBytes: sizes[0], medianBytes: sizes[sizes.length >> 1], maxBytes: sizes[sizes.length - 1] },
      bytes: {
        routing: built.routing.ref.bytes,
        shards: shardBytes,
        items: itemBytes,
        catalog: built.catalog.ref.bytes,
        manifest: Buffer.byteLength(manifestText),
        model: modelBytes,
        perItem: +((indexBytes + itemBytes + Buffer.byteLength(manifestText)) / n).toFixed(1),
      },
      selfCheck: check,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    await writeFile(path.join(out, "report.json"), JSON.stringify(report, null, 2));
    return { manifest, report };
  } finally {
    await pool.close();
  }
}

export function reportLines(r: BuildReport): string[] {
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  const lines = [
    `index ${r.version} → ${r.out}`,
    `items            ${r.items}${r.skippedBlank ? ` (${r.skippedBlank} blank skipped)` : ""}`,
    `seconds          ${Object.entries(r.seconds).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `embeddings       ${r.embeddings.computed} computed (${r.embeddings.perSecond}/s on ${r.embeddings.threads} threads, ${r.embeddings.perSecondPerThread}/s each), ${r.embeddings.cached} cached`,
    `shards           ${r.shards.count}, size min/median/max ${kb(r.shards.minBytes)} / ${kb(r.shards.medianBytes)} / ${kb(r.shards.maxBytes)}`,
    `stored bytes     routing ${kb(r.bytes.routing)}, shards ${kb(r.bytes.shards)}, items ${kb(r.bytes.items)}, catalog ${kb(r.bytes.catalog)}; ${r.bytes.perItem} B/item (model ${kb(r.bytes.model)} not counted)`,
    `self-check       recall@10 ${r.selfCheck.recallAt10.toFixed(3)} on ${r.selfCheck.queries} perturbed items, ${kb(r.selfCheck.meanBytes)} mean / ${kb(r.selfCheck.maxBytes)} max per query, ${r.selfCheck.roundTrips} KV rounds`,
    `peak RSS         ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  ];
  return lines;
}

const USAGE = `Usage: npm run build -- --corpus FILE [options]

Builds the search index of a corpus into KV-ready artifacts.

  --corpus FILE         .txt (one item a line), .csv/.tsv with a header, or .jsonl
  --out DIR             output directory (default index-artifacts/)
  --text-column NAME    text column of a .csv/.tsv (default: text, headline_text, headline or title)
  --cache DIR           embedding cache directory (default .cache/embeddings)
  --no-cache            embed everything, write no cache
  --threads N           embedding threads (default: every core)
  --leaf-size N         mean items per leaf/shard (default ${DEFAULT_PARAMS.leafSize})
  --pq-m N              product-quantizer bytes per item (default ${DEFAULT_PARAMS.pqM})
  --rerank N            candidates re-ranked with int8 vectors (default ${DEFAULT_PARAMS.rerank})
  --nprobe N            leaves probed per query (default: chosen by the self-check)
  --target-recall X     recall@10 the self-check aims for (default 0.97: a margin over 0.95
                        for queries it has not seen)
  --probe-kb N          shard bytes one query may read in round 1 (default 320)
  --extend DIR          keep the leaves of the build in DIR; only changed shards differ
  --check-queries N     self-check queries (default 200)
  --json                print the report as JSON
  --help                this text
`;

export function parseIntFlag(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}


/** The index knobs, shared by every command that builds (build, deploy). */
export const BUILD_FLAGS = {
  "text-column": { type: "string" },
  threads: { type: "string" },
  "leaf-size": { type: "string" },
  "pq-m": { type: "string" },
  rerank: { type: "string" },
  nprobe: { type: "string" },
  "probe-kb": { type: "string" },
  "target-recall": { type: "string" },
  "check-queries": { type: "string" },
} as const;

export function buildOptionsFromFlags(a: { [K in keyof typeof BUILD_FLAGS]?: string }): Partial<BuildOptions> {
  const pqM = parseIntFlag("pq-m", a["pq-m"]);
  if (pqM !== undefined && EMBEDDING_DIM % pqM !== 0) throw new UsageError(`--pq-m must divide ${EMBEDDING_DIM}`);
  const targetRecall = a["target-recall"] === undefined ? undefined : Number(a["target-recall"]);
  if (targetRecall !== undefined && !(targetRecall > 0 && targetRecall <= 1)) throw new UsageError("--target-recall must be in (0, 1]");
  const probeKb = parseIntFlag("probe-kb", a["probe-kb"]);
  return {
    textColumn: a["text-column"],
    threads: parseIntFlag("threads", a.threads),
    leafSize: parseIntFlag("leaf-size", a["leaf-size"], 2),
    pqM,
    rerank: parseIntFlag("rerank", a.rerank),
    nprobe: parseIntFlag("nprobe", a.nprobe),
    maxShardBytes: probeKb === undefined ? undefined : probeKb * 1024,
    targetRecall,
    checkQueries: parseIntFlag("check-queries", a["check-queries"]),
  };
}

function main(): Promise<number> {
  const config = {
    options: {
      corpus: { type: "string" },
      out: { type: "string" },
      cache: { type: "string" },
      "no-cache": { type: "boolean" },
      extend: { type: "string" },
      ...BUILD_FLAGS,
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  } as const;
  return runCli(
    USAGE,
    config,
    async ({ values: args }) => {
      if (!args.corpus) throw new UsageError("--corpus FILE is required");
      const { report } = await runBuild({
        corpus: args.corpus,
        out: args.out,
        cacheDir: args["no-cache"] ? null : args.cache,
        base: args.extend,
        ...buildOptionsFromFlags(args),
      });
      if (args.json) process.stdout.write(JSON.stringify(report) + "\n");
      else process.stdout.write(reportLines(report).join("\n") + "\n");
    },
    [CorpusError],
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main();
}
