// `npm run search -- --artifacts DIR [--k 10] [--exact] [--json] (QUERY... | --queries-file FILE)`
// The Worker's search code (lib/index/reader.ts) over the artifacts on disk;
// --exact is brute force over the float32 vectors, the ground truth; --filter
// narrows either by metadata (lib/filter/).
import { readFile } from "node:fs/promises";
import { runCli } from "../common/cli.ts";
import { parseIntFlag, parseMarginFlag, UsageError } from "../common/cli.ts";
import { createNodeEmbedder } from "../builder/embedding/node-model.ts";
import { FilterError, type CompiledFilter } from "../../lib/filter/compile.ts";
import { ArtifactSearch } from "../artifacts/node-search.ts";
import { DEFAULT_OUT } from "../common/paths.ts";

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

export function main(): Promise<number> {
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
