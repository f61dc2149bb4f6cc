// `npm run search -- --artifacts DIR [--k 10] [--mode hybrid] [--exact] [--json] (QUERY... | --queries-file FILE)`
// The Worker's search code (lib/index/reader.ts) over the artifacts on disk;
// --exact is brute force over the float32 vectors, the ground truth; --filter
// narrows either by metadata (lib/filter/).
import { readFile } from "node:fs/promises";
import { DEFAULT_SEMANTIC_WEIGHT, ModeUnavailableError, SEARCH_MODES, type ModeHit, type ModeOptions, type SearchMode } from "../../lib/lexical/hybrid.ts";
import { FUSIONS, type Fusion } from "../../lib/lexical/fusion.ts";
import { booleanFlags, HELP_FLAG, parseIntFlag, parseMarginFlag, runCli, stringFlags, UsageError } from "../common/cli.ts";
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
  --mode M             semantic, lexical or hybrid (default: hybrid when the index has a lexicon,
                       else semantic); lexical and hybrid take the Worker's same two KV rounds
  --fusion F           how hybrid merges: score (normalised cosine and BM25, default) or rrf
  --semantic-weight W  score fusion's weight of the cosine, 0..1 (default ${DEFAULT_SEMANTIC_WEIGHT})
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

type Answer = { mode: SearchMode; fusion: Fusion | null; reason?: string; results: ModeHit[]; stats: { shards: number; bytes: number; roundTrips: number } };

/** --mode, --fusion and --semantic-weight, checked. */
function modeFlags(a: { mode?: string; fusion?: string; "semantic-weight"?: string }): { mode?: SearchMode; fusion?: Fusion; weight?: number } {
  const mode = a.mode === undefined ? undefined : (SEARCH_MODES as readonly string[]).includes(a.mode) ? (a.mode as SearchMode) : undefined;
  if (a.mode !== undefined && !mode) throw new UsageError(`--mode must be one of ${SEARCH_MODES.join(", ")}`);
  const fusion = a.fusion === undefined ? undefined : (FUSIONS as readonly string[]).includes(a.fusion) ? (a.fusion as Fusion) : undefined;
  if (a.fusion !== undefined && !fusion) throw new UsageError(`--fusion must be one of ${FUSIONS.join(", ")}`);
  const weight = a["semantic-weight"] === undefined ? undefined : Number(a["semantic-weight"]);
  if (weight !== undefined && !(weight >= 0 && weight <= 1)) throw new UsageError("--semantic-weight must be a number from 0 to 1");
  return { mode, fusion, weight };
}

async function answerOne(
  engine: ArtifactSearch,
  q: string,
  v: Float32Array,
  o: { k: number; knobs: Pick<ModeOptions, "nprobe" | "rerank" | "rerankMargin" | "probeMargin">; filter: CompiledFilter | null; mode?: SearchMode; fusion?: Fusion; weight?: number; exact: boolean },
): Promise<Answer> {
  if (!o.exact) {
    return engine.query(q, v, { k: o.k, ...o.knobs, filter: o.filter, mode: o.mode, fusion: o.fusion, semanticWeight: o.weight }).catch((e: unknown) => {
      throw e instanceof ModeUnavailableError ? new UsageError(e.message) : e;
    });
  }
  const ex = await engine.exact(v, o.k, o.filter);
  return { mode: "semantic", fusion: null, results: ex.results.map((r) => ({ ...r, scores: { semantic: r.score, lexical: null } })), stats: ex.stats };
}

function printAnswer(q: string, answer: Answer): void {
  process.stdout.write(`\n${q}  [${answer.mode}${answer.fusion ? `, ${answer.fusion} fusion` : ""}]\n`);
  if (answer.reason) process.stdout.write(`  (no results: ${answer.reason})\n`);
  for (const r of answer.results) {
    const meta = Object.entries(r.meta).map(([key, v]) => `${key}=${v}`).join(" ");
    const bm25 = r.scores.lexical === null ? "" : `, BM25 ${r.scores.lexical.toFixed(2)}`;
    process.stdout.write(`  ${r.score.toFixed(3)}  ${r.text}${meta ? `  [${meta}]` : ""}  (cosine ${r.scores.semantic.toFixed(3)}${bm25})\n`);
  }
}

export function main(): Promise<number> {
  const config = {
    allowPositionals: true,
    options: {
      ...stringFlags("artifacts", "k", "nprobe", "rerank", "rerank-margin", "probe-margin", "queries-file", "filter", "mode", "fusion", "semantic-weight"),
      ...booleanFlags("exact", "json"),
      ...HELP_FLAG,
    },
  } as const;
  return runCli(USAGE, config, async ({ values: a, positionals }) => {
    const k = parseIntFlag("k", a.k) ?? 10;
    if (k > 100) throw new UsageError("--k must be at most 100");
    const knobs = { nprobe: parseIntFlag("nprobe", a.nprobe), rerank: parseIntFlag("rerank", a.rerank), rerankMargin: parseMarginFlag("rerank-margin", a["rerank-margin"]), probeMargin: parseMarginFlag("probe-margin", a["probe-margin"]) };
    const { mode, fusion, weight } = modeFlags(a);
    if (a.exact && mode && mode !== "semantic") throw new UsageError("--exact is dense brute force: it takes no --mode but semantic");
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
        const answer = await answerOne(engine, batch[j], vectors[j], { k, knobs, filter, mode, fusion, weight, exact: !!a.exact });
        const { stats, reason } = answer;
        if (a.json) process.stdout.write(JSON.stringify({ q: batch[j], mode: answer.mode, fusion: answer.fusion, ...(reason ? { reason } : {}), results: answer.results, stats }) + "\n");
        else {
          printAnswer(batch[j], answer);
          if (!a.exact) process.stdout.write(`  (${stats.shards} shards, ${(stats.bytes / 1024).toFixed(0)} KB, ${stats.roundTrips} KV rounds)\n`);
        }
      }
    }
  });
}
