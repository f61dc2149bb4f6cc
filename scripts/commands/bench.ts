// `npm run bench`'s flags and usage. What it does:
// Builds the index if needed (cached under .cache/bench), serves it from the
// Worker in workerd with local KV, and measures it through HTTP against exact
// search (in Node and in the Worker), the seed's random-projection + Annoy
// pipeline, Annoy and hnswlib on the full vectors; then sweeps the index's
// knobs for the recall-vs-bytes curve (CSV + PNG). Prints a table; --json
// writes the same numbers with the machine, Node and git commit.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { booleanFlags, HELP_FLAG, parseIntFlag, runCli, stringFlags, UsageError } from "../common/cli.ts";
import { latencyMarkdown, markdown } from "../bench/report.ts";
import { writeOutputs } from "../bench/outputs.ts";
import { runLatencyBench } from "../bench/latency.ts";
import { BENCH_CACHE } from "../bench/build-cache.ts";
import { DEFAULTS, runBench, type BenchOptions } from "../bench/run.ts";
import { runScaleBench } from "../bench/scale.ts";
import { SYNTHETIC_DEFAULTS } from "../bench/synthetic.ts";
import { scaleMarkdown } from "../bench/scale-report.ts";
import { filterMarkdown, runFilterBench } from "../bench/filters.ts";
import { HYBRID_DEFAULTS, hybridMarkdown, runHybridBench } from "../bench/hybrid.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import { FLEET_DEFAULTS, fleetMarkdown, runFleetBench } from "../bench/embed-fleet.ts";
import { BUILD_TIME_DEFAULTS, buildTimeMarkdown, runBuildTimeBench } from "../bench/build-time.ts";

const USAGE = `Usage: npm run bench -- --corpus FILE [options]

  --corpus FILE          corpus to build and search (.txt, .csv/.tsv, .jsonl)
  --queries FILE         one query a line (default: bench/queries.txt + ${DEFAULTS.perturbed} perturbed corpus items)
  --json OUT             write every number as JSON
  --md OUT               write the tables as Markdown
  --plot-dir DIR         where recall-vs-bytes.csv/.png go (default: beside --json, else .cache/bench/out/)
  --perturbed N          perturbed corpus items added to the questions (default ${DEFAULTS.perturbed})
  --repeats N            timing runs (default ${DEFAULTS.repeats}); medians and min–max are reported
  --exact-queries N      queries sent to the Worker's exact search (default ${DEFAULTS.exactQueries}; it reads every item)
  --leaf-sizes A,B       extra builds for the shard-size knob (default ${DEFAULTS.leafSizes.join(",")}; "" for none)
  --annoy-trees N        (default ${DEFAULTS.annoyTrees})
  --annoy-search-k A,B   (default ${DEFAULTS.annoySearchK.join(",")})
  --hnsw-m N             (default ${DEFAULTS.hnswM})
  --hnsw-ef A,B          (default ${DEFAULTS.hnswEf.join(",")})
  --threads N            embedding threads (default: every core)
  --scale N              instead: the scale benchmark (scripts/bench/scale.ts) on an N-item set grown
                         from --corpus's real embeddings; --json/--md write its report
  --filters              instead: recall, bytes and rounds under filters of every selectivity
                         (scripts/bench/filters.ts); --json/--md write its report
  --latency              instead: the warm-latency targets alone (/search ÷ /embed of one text end to
                         end, search compute) and where the time goes, through HTTP (scripts/bench/latency.ts);
                         --json/--md write its report; --repeats and --perturbed apply
  --hybrid               instead: MRR@10, recall@1/@10, bytes and rounds of the semantic, lexical and
                         hybrid modes on STS-B retrieval and on rare-word known items from --corpus
                         (scripts/bench/hybrid.ts); writes docs/bench-hybrid.md and .json unless
                         --md/--json say otherwise
  --stsb FILE            with --hybrid: the STS-B test file (default ../shared/data/sts-benchmark-test.tsv)
  --known-items N        with --hybrid: known-item queries (default ${HYBRID_DEFAULTS.knownItems})
  --artifacts DIR        with --filters or --latency: measure the index built in DIR (e.g. the scale bench's) instead
  --resident-kib N       with --latency: the Worker's RESIDENT_KIB (0: every record from KV; default wrangler.toml's)
  --no-serve             with --scale or --filters: skip the Worker pass (publishing N records to local KV is slow)
  --reuse-build          with --scale: reuse the index the last run built (and its build figures)
  --kv-change            with --scale: measure the KV writes of a 1% change by building a changed copy of
                         the set over the index (scripts/bench/scale-change.ts; the set's size again on disk)
  --scale-noise X        with --scale: the generator's noise (default ${SYNTHETIC_DEFAULTS.noise}); more noise puts the
                         synthetic items' neighbours farther apart, a harder set (docs/decisions.md#synthetic-scale-set)
  --embed-fleet          instead: the build's embedding on 1, 2 and 4 local Workers (--embed-url's code),
                         items/s, CPU per item in the Worker and in the build, and the time and Workers
                         cost of 1.2M and 10M items (scripts/bench/embed-fleet.ts); --json/--md write it
  --instances A,B        with --embed-fleet: local Worker counts (default ${FLEET_DEFAULTS.instances.join(",")})
  --items N              with --embed-fleet: distinct texts of --corpus embedded per run (default ${FLEET_DEFAULTS.items})
  --concurrency N        with --embed-fleet: requests in flight (default ${FLEET_DEFAULTS.perInstance} per instance)
  --build-time           instead: a small build's wall time from cached embeddings (the first --items of
                         --corpus, default ${BUILD_TIME_DEFAULTS.items}; --repeats timed runs, default ${BUILD_TIME_DEFAULTS.repeats})
                         and its self-check (scripts/bench/build-time.ts); --json/--md write its report
  --help
`;

function list(name: string, v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  if (v.trim() === "") return [];
  return v.split(",").map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || (n < 1 && n !== -1)) throw new UsageError(`--${name} takes integers, got "${x}"`);
    return n;
  });
}

/** The hybrid bench's flags (scripts/bench/hybrid.ts). */
const HYBRID_FLAGS = { ...booleanFlags("hybrid"), ...stringFlags("stsb", "known-items") };

/** The fleet bench's flags (scripts/bench/embed-fleet.ts). */
const FLEET_FLAGS = { ...booleanFlags("embed-fleet"), ...stringFlags("instances", "items", "concurrency") };

export function main(): Promise<number> {
  const config = {
    options: {
      ...stringFlags("corpus", "queries", "json", "md", "plot-dir", "perturbed", "repeats", "exact-queries", "leaf-sizes"),
      ...stringFlags("annoy-trees", "annoy-search-k", "hnsw-m", "hnsw-ef", "threads", "scale", "scale-noise", "artifacts", "resident-kib"),
      ...booleanFlags("filters", "latency", "no-serve", "reuse-build", "kv-change", "build-time"),
      ...FLEET_FLAGS,
      ...HYBRID_FLAGS,
      ...HELP_FLAG,
    },
    strict: true,
  } as const;
  return runCli(USAGE, config, async ({ values: a }) => {
    if (!a.corpus) throw new UsageError("--corpus FILE is required");
    if (a["embed-fleet"]) return fleetBench(a.corpus, a);
    if (a["build-time"]) return buildTimeBench(a.corpus, { items: parseIntFlag("items", a.items), repeats: parseIntFlag("repeats", a.repeats), json: a.json, md: a.md });
    if (a.scale !== undefined) return scaleBench(a.corpus, parseIntFlag("scale", a.scale)!, { json: a.json, md: a.md, threads: parseIntFlag("threads", a.threads), serve: !a["no-serve"], reuseBuild: a["reuse-build"], kvChange: a["kv-change"], noise: noiseFlag(a["scale-noise"]) });
    if (a.latency) {
      const residentKib = parseIntFlag("resident-kib", a["resident-kib"], 0);
      return latencyBench(a.corpus, { json: a.json, md: a.md, artifacts: a.artifacts, threads: parseIntFlag("threads", a.threads), repeats: parseIntFlag("repeats", a.repeats), perturbed: parseIntFlag("perturbed", a.perturbed, 0), residentKib });
    }
    if (a.hybrid) return hybridBench(a.corpus, { stsb: a.stsb, knownItems: parseIntFlag("known-items", a["known-items"]), threads: parseIntFlag("threads", a.threads), json: a.json, md: a.md });
    if (a.filters) return filterBench(a.corpus, { json: a.json, md: a.md, artifacts: a.artifacts, threads: parseIntFlag("threads", a.threads), serve: !a["no-serve"], perturbed: parseIntFlag("perturbed", a.perturbed, 0) ?? DEFAULTS.perturbed });
    const opts: BenchOptions = {
      corpus: a.corpus,
      queriesFile: a.queries,
      perturbed: parseIntFlag("perturbed", a.perturbed, 0),
      repeats: parseIntFlag("repeats", a.repeats),
      exactQueries: parseIntFlag("exact-queries", a["exact-queries"], 0),
      leafSizes: list("leaf-sizes", a["leaf-sizes"]),
      annoyTrees: parseIntFlag("annoy-trees", a["annoy-trees"]),
      annoySearchK: list("annoy-search-k", a["annoy-search-k"]),
      hnswM: parseIntFlag("hnsw-m", a["hnsw-m"], 2),
      hnswEf: list("hnsw-ef", a["hnsw-ef"]),
      threads: parseIntFlag("threads", a.threads),
      log: (s) => process.stderr.write(`[bench] ${s}\n`),
    };
    const r = await runBench(opts);
    const plotDir = a["plot-dir"] ?? (a.json ? path.dirname(a.json) : path.join(BENCH_CACHE, "out"));
    await writeOutputs(r, { json: a.json, md: a.md, plotDir });
    process.stdout.write(markdown(r));
    process.stderr.write(`[bench] curve: ${path.join(plotDir, "recall-vs-bytes.csv")}, ${path.join(plotDir, "recall-vs-bytes.png")}${a.json ? `; JSON: ${a.json}` : ""}${a.md ? `; Markdown: ${a.md}` : ""}\n`);
  });
}

/** Writes a report's JSON and Markdown where asked, and prints the Markdown. */
async function writeReport(report: unknown, md: string, o: { json?: string; md?: string }): Promise<void> {
  for (const [file, text] of [
    [o.json, JSON.stringify(report, null, 1) + "\n"],
    [o.md, md],
  ] as const) {
    if (!file) continue;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  process.stdout.write(md);
}

async function hybridBench(corpus: string, o: { stsb?: string; knownItems?: number; threads?: number; json?: string; md?: string }): Promise<void> {
  const log = (s: string) => process.stderr.write(`[hybrid] ${s}\n`);
  const stsb = o.stsb ?? path.join(PROJECT_ROOT, "..", "shared", "data", "sts-benchmark-test.tsv");
  const r = await runHybridBench({ headlines: corpus, stsb, knownItems: o.knownItems, threads: o.threads, log });
  await writeReport(r, hybridMarkdown(r), { json: o.json ?? path.join(PROJECT_ROOT, "docs", "bench-hybrid.json"), md: o.md ?? path.join(PROJECT_ROOT, "docs", "bench-hybrid.md") });
}

async function fleetBench(corpus: string, a: { instances?: string; items?: string; concurrency?: string; json?: string; md?: string }): Promise<void> {
  const log = (s: string) => process.stderr.write(`[embed-fleet] ${s}\n`);
  const instances = list("instances", a.instances);
  if (instances && (instances.length === 0 || instances.some((n) => n < 1))) throw new UsageError("--instances takes counts ≥ 1, e.g. 1,2,4");
  const r = await runFleetBench({ corpus, instances, items: parseIntFlag("items", a.items), concurrency: parseIntFlag("concurrency", a.concurrency), log });
  await writeReport(r, fleetMarkdown(r), a);
}

async function buildTimeBench(corpus: string, o: { items?: number; repeats?: number; json?: string; md?: string }): Promise<void> {
  const log = (s: string) => process.stderr.write(`[build-time] ${s}\n`);
  const r = await runBuildTimeBench({ corpus, items: o.items, repeats: o.repeats, log });
  await writeReport(r, buildTimeMarkdown(r), o);
}

async function filterBench(corpus: string, o: { json?: string; md?: string; artifacts?: string; threads?: number; serve: boolean; perturbed: number }): Promise<void> {
  const log = (s: string) => process.stderr.write(`[filters] ${s}\n`);
  const r = await runFilterBench({ corpus, artifacts: o.artifacts, perturbed: o.perturbed, serve: o.serve, threads: o.threads, log });
  await writeReport(r, filterMarkdown(r), o);
}

async function latencyBench(corpus: string, o: { json?: string; md?: string; artifacts?: string; threads?: number; repeats?: number; perturbed?: number; residentKib?: number }): Promise<void> {
  const log = (s: string) => process.stderr.write(`[latency] ${s}\n`);
  const r = await runLatencyBench({ corpus, artifacts: o.artifacts, threads: o.threads, repeats: o.repeats, perturbed: o.perturbed, residentKib: o.residentKib, log });
  await writeReport(r, latencyMarkdown(r), o);
}

function noiseFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0 || x > 4) throw new UsageError(`--scale-noise takes a number from 0 to 4, got "${v}"`);
  return x;
}

async function scaleBench(corpus: string, items: number, o: { json?: string; md?: string; threads?: number; serve: boolean; reuseBuild?: boolean; kvChange?: boolean; noise?: number }): Promise<void> {
  const log = (s: string) => process.stderr.write(`[scale] ${s}\n`);
  const r = await runScaleBench({ corpus, items, workDir: path.join(BENCH_CACHE, "scale"), threads: o.threads, serve: o.serve, reuseBuild: o.reuseBuild, kvChange: o.kvChange, noise: o.noise, log });
  await writeReport(r, scaleMarkdown(r), o);
}
