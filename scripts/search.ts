// `npm run search -- --artifacts DIR [--k 10] [--exact] [--json] (QUERY... | --queries-file FILE)`
// The Worker's search code (lib/index/reader.ts) over the artifacts on disk;
// --exact is brute force over the float32 vectors, the ground truth; --filter
// narrows either by metadata (lib/filter/).
import { readFile } from "node:fs/promises";
import { runCli } from "./cli.ts";
import type { ItemRecord } from "../lib/index/format.ts";
import type { Manifest } from "../lib/index/manifest.ts";
import { openIndex, searchVector, type FilterStats, type SearchHit, type IndexHandle } from "../lib/index/reader.ts";
import { FileSource, readManifest, readRecordTexts, readVectors } from "./artifacts.ts";
import { DEFAULT_OUT, parseIntFlag, parseMarginFlag, UsageError } from "./build.ts";
import { createNodeEmbedder } from "./embed/node-model.ts";
import { exactTopK, exactTopKOf } from "./index/self-check.ts";
import { encodeColumns, matchingRows } from "./index/filter-columns.ts";
import { compileFilter, FilterError, type CompiledFilter } from "../lib/filter/compile.ts";
import type { FilterField } from "../lib/filter/values.ts";
import { dot } from "../lib/index/vector.ts";

export interface QueryAnswer {
  q: string;
  results: SearchHit[];
  stats: { shards: number; bytes: number; roundTrips: number; filter?: FilterStats };
}

export class ArtifactSearch {
  private constructor(
    readonly manifest: Manifest,
    readonly source: FileSource,
    readonly handle: IndexHandle,
    private vectors: Float32Array | undefined,
    readonly dir: string,
  ) {}

  private columns: Float64Array | undefined;

  /** The filterable fields of this index (none when the build declared none). */
  get fields(): FilterField[] {
    return this.manifest.filters?.fields ?? [];
  }

  /** A filter's JSON compiled against this index's fields; FilterError when it is wrong. */
  compile(filterJson: string): CompiledFilter | null {
    let input: unknown;
    try {
      input = JSON.parse(filterJson);
    } catch (e) {
      throw new FilterError("invalid_filter", "filter", `not JSON: ${(e as Error).message}`);
    }
    return compileFilter(input, { fields: this.fields }, Buffer.byteLength(filterJson));
  }

  private records: ItemRecord[] | undefined;

  /** Every item record, in item order. */
  async allRecords(): Promise<ItemRecord[]> {
    this.records ??= (await readRecordTexts(this.dir)).map((t) => JSON.parse(t) as ItemRecord);
    return this.records;
  }

  /** Every item's encoded filter values, from the records, as the build encoded them. */
  private async columnValues(): Promise<Float64Array> {
    this.columns ??= encodeColumns(await this.allRecords(), this.fields);
    return this.columns;
  }

  /** The ids of every item that passes the filter. */
  async matchingIds(filter: CompiledFilter): Promise<string[]> {
    const rows = matchingRows(await this.columnValues(), this.manifest.items, filter);
    const records = await this.allRecords();
    return rows.map((r) => records[r].id);
  }

  static async open(dir: string): Promise<ArtifactSearch> {
    const manifest = await readManifest(dir);
    const source = await FileSource.open(dir);
    return new ArtifactSearch(manifest, source, await openIndex(manifest, source, null), undefined, dir);
  }

  async approximate(q: Float32Array, k: number, knobs: { nprobe?: number; probeMargin?: number; rerank?: number; rerankMargin?: number; filter?: CompiledFilter | null } = {}): Promise<{ results: SearchHit[]; stats: QueryAnswer["stats"] }> {
    const { results, stats } = await searchVector(this.handle, q, { k, ...knobs });
    return { results, stats: { shards: stats.shards, bytes: stats.bytes, roundTrips: stats.roundTrips, ...(stats.filter ? { filter: stats.filter } : {}) } };
  }

  async exact(q: Float32Array, k: number, filter: CompiledFilter | null = null): Promise<{ results: SearchHit[]; stats: QueryAnswer["stats"] }> {
    this.vectors ??= await readVectors(this.dir, this.manifest.dim);
    const dim = this.manifest.dim;
    const n = this.manifest.items;
    const rows = filter ? exactTopKOf(this.vectors, dim, matchingRows(await this.columnValues(), n, filter), q, k) : exactTopK(this.vectors, dim, n, q, k);
    const results = await Promise.all(
      rows.map(async (row) => {
        const r = JSON.parse(await this.source.recordText(row)) as ItemRecord;
        return { id: r.id, score: dot(q, this.vectors!, row * dim, dim), text: r.text, meta: r.meta };
      }),
    );
    return { results, stats: { shards: 0, bytes: this.vectors.byteLength, roundTrips: 0 } };
  }
}

const USAGE = `Usage: npm run search -- [--artifacts DIR] [--k 10] [--exact] [--json] (QUERY... | --queries-file FILE)

Searches a built index with the Worker's own search code, reading the artifacts from disk.

  --artifacts DIR      build output (default index-artifacts/)
  --k N                results per query, 1..100 (default 10)
  --exact              brute force over all items at full precision (ground truth)
  --nprobe N           leaves probed, at least (default: the manifest's)
  --probe-margin X     also probe leaves within X of the best leaf's score (default: the manifest's)
  --rerank N           candidates re-ranked, at most (default: the manifest's)
  --rerank-margin X    re-rank those within X of the k-th best PQ score (default: the manifest's)
  --filter JSON        only items whose metadata match, e.g. '{"publish_date":{"$gte":"2003-03-01"}}'
                       ($eq $ne $in $nin $lt $lte $gt $gte, top-level $or; with --exact too)
  --queries-file FILE  one query a line
  --json               one JSON line per query: {"q", "results", "stats"}
`;

function compileOrUsage(engine: ArtifactSearch, json: string): CompiledFilter | null {
  try {
    return engine.compile(json);
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(`--filter: ${e.code} at ${e.path}: ${e.message}`);
    throw e;
  }
}

function main(): Promise<number> {
  const config = {
    allowPositionals: true,
    options: {
      artifacts: { type: "string" },
      k: { type: "string" },
      exact: { type: "boolean" },
      json: { type: "boolean" },
      nprobe: { type: "string" },
      rerank: { type: "string" },
      "rerank-margin": { type: "string" },
      "probe-margin": { type: "string" },
      "queries-file": { type: "string" },
      filter: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  } as const;
  return runCli(USAGE, config, async ({ values: a, positionals }) => {
    const k = parseIntFlag("k", a.k) ?? 10;
    if (k > 100) throw new UsageError("--k must be at most 100");
    const knobs = { nprobe: parseIntFlag("nprobe", a.nprobe), rerank: parseIntFlag("rerank", a.rerank), rerankMargin: parseMarginFlag("rerank-margin", a["rerank-margin"]), probeMargin: parseMarginFlag("probe-margin", a["probe-margin"]) };
    let queries = positionals;
    if (a["queries-file"]) {
      if (positionals.length) throw new UsageError("give queries as arguments or with --queries-file, not both");
      let text: string;
      try {
        text = await readFile(a["queries-file"], "utf8");
      } catch {
        throw new UsageError(`cannot read --queries-file ${a["queries-file"]}`);
      }
      queries = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    }
    if (queries.length === 0) throw new UsageError("no query given");
    const engine = await ArtifactSearch.open(a.artifacts ?? DEFAULT_OUT).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const filter = a.filter === undefined ? null : compileOrUsage(engine, a.filter);
    const embedder = await createNodeEmbedder();
    if (embedder.modelId !== engine.manifest.model.id) {
      throw new UsageError(`the index was built with ${engine.manifest.model.id}, this checkout embeds with ${embedder.modelId}; rebuild`);
    }
    for (let i = 0; i < queries.length; i += 32) {
      const batch = queries.slice(i, i + 32);
      const vectors = await embedder.embed(batch);
      for (let j = 0; j < batch.length; j++) {
        const { results, stats } = a.exact ? await engine.exact(vectors[j], k, filter) : await engine.approximate(vectors[j], k, { ...knobs, filter });
        if (a.json) process.stdout.write(JSON.stringify({ q: batch[j], results, stats }) + "\n");
        else {
          process.stdout.write(`\n${batch[j]}\n`);
          for (const r of results) {
            const meta = Object.entries(r.meta).map(([key, v]) => `${key}=${v}`).join(" ");
            process.stdout.write(`  ${r.score.toFixed(3)}  ${r.text}${meta ? `  [${meta}]` : ""}\n`);
          }
          if (!a.exact) process.stdout.write(`  (${stats.shards} shards, ${(stats.bytes / 1024).toFixed(0)} KB, ${stats.roundTrips} KV rounds)\n`);
        }
      }
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
