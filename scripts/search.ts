// `npm run search -- --artifacts DIR [--k 10] [--exact] [--json] (QUERY... | --queries-file FILE)`
// The Worker's search code (lib/index/reader.ts) over the artifacts on disk;
// --exact is brute force over the float32 vectors, the ground truth.
import { readFile } from "node:fs/promises";
import { runCli } from "./cli.ts";
import type { ItemRecord } from "../lib/index/format.ts";
import type { Manifest } from "../lib/index/manifest.ts";
import { openIndex, searchVector, type SearchHit, type IndexHandle } from "../lib/index/reader.ts";
import { FileSource, readManifest, readVectors } from "./artifacts.ts";
import { DEFAULT_OUT, parseIntFlag, UsageError } from "./build.ts";
import { createNodeEmbedder } from "./embed/node-model.ts";
import { exactTopK } from "./index/self-check.ts";
import { dot } from "../lib/index/vector.ts";

export interface QueryAnswer {
  q: string;
  results: SearchHit[];
  stats: { shards: number; bytes: number; roundTrips: number };
}

export class ArtifactSearch {
  private constructor(
    readonly manifest: Manifest,
    readonly source: FileSource,
    readonly handle: IndexHandle,
    private vectors: Float32Array | undefined,
    readonly dir: string,
  ) {}

  static async open(dir: string): Promise<ArtifactSearch> {
    const manifest = await readManifest(dir);
    const source = await FileSource.open(dir);
    return new ArtifactSearch(manifest, source, await openIndex(manifest, source, null), undefined, dir);
  }

  async approximate(q: Float32Array, k: number, knobs: { nprobe?: number; rerank?: number } = {}): Promise<{ results: SearchHit[]; stats: QueryAnswer["stats"] }> {
    const { results, stats } = await searchVector(this.handle, q, { k, ...knobs });
    return { results, stats: { shards: stats.shards, bytes: stats.bytes, roundTrips: stats.roundTrips } };
  }

  async exact(q: Float32Array, k: number): Promise<{ results: SearchHit[]; stats: QueryAnswer["stats"] }> {
    this.vectors ??= await readVectors(this.dir, this.manifest.dim);
    const dim = this.manifest.dim;
    const rows = exactTopK(this.vectors, dim, this.manifest.items, q, k);
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
  --nprobe N           leaves probed (default: the manifest's)
  --rerank N           candidates re-ranked (default: the manifest's)
  --queries-file FILE  one query a line
  --json               one JSON line per query: {"q", "results", "stats"}
`;

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
      "queries-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  } as const;
  return runCli(USAGE, config, async ({ values: a, positionals }) => {
    const k = parseIntFlag("k", a.k) ?? 10;
    if (k > 100) throw new UsageError("--k must be at most 100");
    const knobs = { nprobe: parseIntFlag("nprobe", a.nprobe), rerank: parseIntFlag("rerank", a.rerank) };
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
    const embedder = await createNodeEmbedder();
    if (embedder.modelId !== engine.manifest.model.id) {
      throw new UsageError(`the index was built with ${engine.manifest.model.id}, this checkout embeds with ${embedder.modelId}; rebuild`);
    }
    for (let i = 0; i < queries.length; i += 32) {
      const batch = queries.slice(i, i + 32);
      const vectors = await embedder.embed(batch);
      for (let j = 0; j < batch.length; j++) {
        const { results, stats } = a.exact ? await engine.exact(vectors[j], k) : await engine.approximate(vectors[j], k, knobs);
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
