// `npm run build`'s flags and usage: parse, call the builder (scripts/builder/build.ts), print its report.
import { CorpusError } from "../builder/corpus/read-corpus.ts";
import { DEFAULT_BYTE_BUDGET, DEFAULT_CHECK_QUERIES, DEFAULT_TARGET_RECALL, reportLines, runBuild } from "../builder/build.ts";
import { DEFAULT_PARAMS } from "../builder/build-index.ts";
import { BUILD_FLAGS, buildOptionsFromFlags } from "../builder/flags.ts";
import { PROBE_SPREAD } from "../../lib/index/leaves.ts";
import { booleanFlags, HELP_FLAG, parseIntFlag, runCli, stringFlags, UsageError } from "../common/cli.ts";
import { embedEndpoint, REMOTE_DEFAULTS, RemoteEmbedError, type RemoteOptions } from "../builder/embedding/remote.ts";
import { MIN_COSINE } from "../builder/embedding/remote-corpus.ts";

const USAGE = `Usage: npm run build -- --corpus FILE [options]

Builds the search index of a corpus into KV-ready artifacts.

  --corpus FILE         .txt (one item a line), .csv/.tsv with a header, or .jsonl
  --out DIR             output directory (default index-artifacts/)
  --text-column NAME    text column of a .csv/.tsv (default: text, headline_text, headline or title)
  --vectors FILE.f32    precomputed USE-lite embeddings instead of the model: little-endian
                        float32, 512 per row, unit length, row i for item i (corpus order,
                        blank texts skipped)
  --cache DIR           embedding cache directory (default .cache/embeddings)
  --no-cache            embed everything, write no cache
  --threads N           embedding threads (default: every core)
  --embed-url URL       embed on a deployed Worker's /embed instead of this machine's cores (the
                        same model the queries get); repeat the flag to spread over several Workers.
                        A sample is embedded here first and the Worker refused if any cosine is
                        below ${MIN_COSINE}. Results go through the cache, so a stopped build resumes.
  --embed-token T       the Worker's /embed key, sent as "Authorization: Bearer T" (default: the
                        EMBED_TOKEN environment variable)
  --concurrency N       /embed requests in flight, over all --embed-url (default ${REMOTE_DEFAULTS.concurrency})
  --embed-batch N       texts per /embed request (default ${REMOTE_DEFAULTS.batchSize}, the Worker's MAX_EMBED_TEXTS)
  --leaf-size N         mean items per leaf/shard (default ${DEFAULT_PARAMS.leafSize})
  --pq-m N              product-quantizer bytes per item (default ${DEFAULT_PARAMS.pqM})
  --rerank N            candidates re-ranked with int8 vectors, at most (default ${DEFAULT_PARAMS.rerank},
                        deepened by the self-check where a large index needs it; given, it stays)
  --rerank-margin X     re-rank the candidates whose PQ score is within X of the k-th best, at least
                        2k of them (default ${DEFAULT_PARAMS.rerankMargin}; 2 or more re-ranks all --rerank)
  --nprobe N            leaves probed per query, at least (default: chosen by the self-check)
  --probe-margin X      also probe the leaves whose centroid scores within X of the best, up to
                        ${PROBE_SPREAD} × nprobe (default ${DEFAULT_PARAMS.probeMargin}; 0: nprobe exactly)
  --target-recall X     recall@10 the self-check aims for (default ${DEFAULT_TARGET_RECALL}: a margin over 0.95
                        for queries it has not seen)
  --byte-budget-kb N    mean KB a query may read when the self-check picks nprobe, cap and re-rank
                        (default ${DEFAULT_BYTE_BUDGET / 1024})
  --probe-kb N          shard bytes one query may read in round 1 (default ${DEFAULT_PARAMS.maxShardBytes / 1024},
                        raised by the self-check where a large index needs it; given, it stays)
  --filterable COL,…    metadata columns queries can filter on, or "none" (default: date-like
                        columns and columns with at most 64 distinct values)
  --extend DIR          keep the leaves of the build in DIR; only changed shards differ
  --check-queries N     self-check queries (default ${DEFAULT_CHECK_QUERIES})
  --json                print the report as JSON
  --help                this text
`;

export function main(): Promise<number> {
  const config = {
    options: {
      ...stringFlags("corpus", "out", "cache", "vectors", "extend", "embed-token", "concurrency", "embed-batch"),
      "embed-url": { type: "string", multiple: true },
      ...BUILD_FLAGS,
      ...booleanFlags("no-cache", "json"),
      ...HELP_FLAG,
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
        vectors: args.vectors,
        base: args.extend,
        embedRemote: embedRemoteFromFlags(args),
        ...buildOptionsFromFlags(args),
      });
      if (args.json) process.stdout.write(JSON.stringify(report) + "\n");
      else process.stdout.write(reportLines(report).join("\n") + "\n");
    },
    [CorpusError, RemoteEmbedError],
  );
}

/** --embed-url and its companions; the token falls back to EMBED_TOKEN so it need not sit in shell history. */
function embedRemoteFromFlags(a: { "embed-url"?: string[]; "embed-token"?: string; concurrency?: string; "embed-batch"?: string; vectors?: string }): RemoteOptions | undefined {
  const urls = a["embed-url"] ?? [];
  if (urls.length === 0) {
    const stray = (["embed-token", "concurrency", "embed-batch"] as const).find((f) => a[f] !== undefined);
    if (stray) throw new UsageError(`--${stray} goes with --embed-url`);
    return undefined;
  }
  if (a.vectors) throw new UsageError("--vectors and --embed-url exclude each other");
  for (const u of urls) {
    try {
      embedEndpoint(u);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const token = a["embed-token"] ?? process.env.EMBED_TOKEN;
  return {
    urls,
    token: token === "" ? undefined : token,
    concurrency: parseIntFlag("concurrency", a.concurrency),
    batchSize: parseIntFlag("embed-batch", a["embed-batch"]),
  };
}
