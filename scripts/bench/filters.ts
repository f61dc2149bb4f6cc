// `npm run bench -- --filters --corpus FILE`: recall under filters of every
// selectivity. The bench's queries (questions + perturbed items) are each run
// with every filter below, in Node with the Worker's search code and through
// HTTP in workerd, against exact float32 search over the items that pass the
// filter. Reports recall@10, the share of results that pass, bytes and KV rounds
// per query, and which plan (scan, values, cells or probe) answered, per filter.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createNodeEmbedder } from "../builder/embedding/node-model.ts";
import { publishToLocalKv } from "../local/bulk-load.ts";
import { startLocalWorker, type LocalWorker } from "../local/harness.ts";
import { ArtifactSearch } from "../artifacts/node-search.ts";
import { cachedBuild } from "./build-cache.ts";
import { loadQueries } from "./queries.ts";
import { dist, type Dist } from "./stats.ts";
import type { SearchStats } from "../../lib/index/reader.ts";
import type { SearchResponse } from "../../functions/wire.ts";
import { readStats } from "./http-client.ts";
import { DEFAULT_CACHE } from "../common/paths.ts";
import { finishRun, startRun, type RunMeta } from "../common/run-meta.ts";

const K = 10;

/** A filter of the bench, on the ABC headlines' publish_date (2003-02-19 .. 2003-10-20). */
export interface FilterCase {
  name: string;
  filter: Record<string, unknown> | null;
}

export const FILTER_CASES: FilterCase[] = [
  { name: "no filter", filter: null },
  { name: "all (every date)", filter: { publish_date: { $gte: "2003-01-01" } } },
  { name: "3 months (Mar–May)", filter: { publish_date: { $gte: "2003-03-01", $lt: "2003-06-01" } } },
  { name: "1 month (March)", filter: { publish_date: { $gte: "2003-03-01", $lt: "2003-04-01" } } },
  { name: "1 week (Mar 3–9)", filter: { publish_date: { $gte: "2003-03-03", $lte: "2003-03-09" } } },
  { name: "1 day (Mar 20)", filter: { publish_date: "2003-03-20" } },
  { name: "$in of 4 days", filter: { publish_date: { $in: ["2003-04-01", "2003-05-15", "2003-07-01", "2003-09-11"] } } },
  { name: "$or of two ranges", filter: { $or: [{ publish_date: { $lt: "2003-03-01" } }, { publish_date: { $gte: "2003-10-01" } }] } },
];

export interface CaseResult {
  name: string;
  filter: Record<string, unknown> | null;
  matching: number;
  selectivity: number;
  plans: Record<string, number>;
  node: PassResult;
  http: (PassResult & { e2eMs: Dist; embedMs: Dist }) | null;
}

export interface PassResult {
  recallAt10: number;
  /** Share of returned items that pass the filter (must be 1). */
  passing: number;
  /** Queries that got fewer than min(k, matching) results. */
  short: number;
  bytes: Dist;
  roundTrips: Dist;
}

export interface FilterBenchReport {
  /** Reports written before RunMeta carry machine.loadAvg and no commit. */
  meta: { date: string; corpus: string; items: number; queries: number; version: string; filterable: string[]; machine: { cpus: number; loadAvg?: number[] }; node: string; command: string; commit?: string; load?: RunMeta["load"] };
  cases: CaseResult[];
}

function pass(answers: Array<{ ids: string[]; stats: SearchStats }>, truth: string[][], matching: Set<string> | null, n: number): PassResult {
  let found = 0;
  let expected = 0;
  let returned = 0;
  let passing = 0;
  let short = 0;
  answers.forEach((a, i) => {
    const t = new Set(truth[i]);
    expected += t.size;
    found += a.ids.filter((id) => t.has(id)).length;
    returned += a.ids.length;
    passing += matching ? a.ids.filter((id) => matching.has(id)).length : a.ids.length;
    if (a.ids.length < Math.min(K, matching ? matching.size : n)) short++;
  });
  return {
    recallAt10: expected ? found / expected : 1,
    passing: returned ? passing / returned : 1,
    short,
    bytes: dist(answers.map((a) => a.stats.bytes)),
    roundTrips: dist(answers.map((a) => a.stats.roundTrips)),
  };
}

async function askHttp(w: LocalWorker, q: string, filter: Record<string, unknown> | null) {
  const t0 = performance.now();
  const res = await w.fetch("/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ q, k: K, mode: "semantic", ...(filter ? { filter } : {}) }) });
  const text = await res.text();
  const e2eMs = performance.now() - t0;
  if (res.status !== 200) throw new Error(`/v1/search answered ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as SearchResponse;
  return { ids: body.results.map((r) => r.id), stats: readStats(body.stats), e2eMs, embedMs: body.timings.embed_ms };
}

/** The corpus's index from the bench's build cache, or an index built before (e.g. the scale bench's). */
async function indexDir(o: { corpus: string; artifacts?: string; threads?: number; log: (s: string) => void }): Promise<string> {
  if (o.artifacts) return o.artifacts;
  const build = await cachedBuild(o.corpus, { threads: o.threads, cacheDir: DEFAULT_CACHE });
  o.log(`index ${build.manifest.version} (${build.reused ? "cached" : "built"})`);
  return build.dir;
}

export async function runFilterBench(o: { corpus: string; artifacts?: string; perturbed: number; serve: boolean; threads?: number; log: (s: string) => void }): Promise<FilterBenchReport> {
  const run = startRun();
  const dir = await indexDir(o);
  const engine = await ArtifactSearch.open(dir);
  const build = { dir, manifest: engine.manifest };
  o.log(`index ${dir}, filterable: ${(build.manifest.filters?.fields ?? []).map((f) => f.name).join(", ") || "none"}`);
  const texts = (await engine.allRecords()).map((r) => r.text);
  const queries = await loadQueries({ corpusTexts: texts, perturbed: o.perturbed });
  const embedder = await createNodeEmbedder();
  const vectors: Float32Array[] = [];
  for (let i = 0; i < queries.length; i += 32) vectors.push(...(await embedder.embed(queries.slice(i, i + 32).map((q) => q.text))));
  o.log(`${queries.length} queries embedded`);

  const prepared = await Promise.all(
    FILTER_CASES.map(async (c) => {
      const compiled = c.filter ? engine.compile(JSON.stringify(c.filter)) : null;
      const matching = compiled ? new Set(await engine.matchingIds(compiled)) : null;
      return { c, compiled, matching };
    }),
  );
  const results: CaseResult[] = [];
  for (const { c, compiled, matching } of prepared) {
    const truth: string[][] = [];
    const node: Array<{ ids: string[]; stats: SearchStats }> = [];
    const plans: Record<string, number> = {};
    for (const v of vectors) {
      truth.push((await engine.exact(v, K, compiled)).results.map((r) => r.id));
      const a = await engine.approximate(v, K, { filter: compiled });
      node.push({ ids: a.results.map((r) => r.id), stats: a.stats as SearchStats });
      const plan = a.stats.filter?.plan ?? "unfiltered";
      plans[plan] = (plans[plan] ?? 0) + 1;
    }
    const n = engine.manifest.items;
    const count = matching ? matching.size : n;
    results.push({ name: c.name, filter: c.filter, matching: count, selectivity: count / n, plans, node: pass(node, truth, matching, n), http: null });
    o.log(`${c.name}: ${count} items (${((100 * count) / n).toFixed(1)}%), Node recall@10 ${results.at(-1)!.node.recallAt10.toFixed(3)}, ${(results.at(-1)!.node.bytes.mean / 1024).toFixed(0)} KB`);
    Object.assign(results.at(-1)!, { truth });
  }
  if (o.serve) await httpPass(build.dir, queries.map((q) => q.text), results, prepared.map((p) => p.matching), engine.manifest.items, o.log);
  for (const r of results) delete (r as Partial<{ truth: unknown }>).truth;
  return {
    meta: {
      ...finishRun(run),
      corpus: path.basename(o.corpus),
      items: engine.manifest.items,
      queries: queries.length,
      version: build.manifest.version,
      filterable: (build.manifest.filters?.fields ?? []).map((f) => `${f.name} (${f.type})`),
      command: `npm run bench -- --filters --corpus ../shared/data/${path.basename(o.corpus)}${o.artifacts ? ` --artifacts ${o.artifacts}` : ""}${o.serve ? "" : " --no-serve"} --perturbed ${o.perturbed}`,
    },
    cases: results,
  };
}

async function httpPass(dir: string, queries: string[], results: CaseResult[], matching: Array<Set<string> | null>, n: number, log: (s: string) => void): Promise<void> {
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-bench-filters-kv-"));
  try {
    await publishToLocalKv(persistDir, dir);
    const w = await startLocalWorker({ persistDir });
    try {
      await askHttp(w, queries[0], null); // warm: the model loads on the first query
      for (const [i, r] of results.entries()) {
        const answers = [];
        for (const q of queries) answers.push(await askHttp(w, q, r.filter));
        const truth = (r as unknown as { truth: string[][] }).truth;
        r.http = { ...pass(answers, truth, matching[i], n), e2eMs: dist(answers.map((a) => a.e2eMs)), embedMs: dist(answers.map((a) => a.embedMs)) };
        log(`${r.name}: HTTP recall@10 ${r.http.recallAt10.toFixed(3)}, e2e p50 ${r.http.e2eMs.p50.toFixed(1)} ms`);
      }
    } finally {
      await w.dispose();
    }
  } finally {
    await rm(persistDir, { recursive: true, force: true });
  }
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;
const kb = (b: number) => `${(b / 1024).toFixed(0)}`;

export function filterMarkdown(r: FilterBenchReport): string {
  const head = ["filter", "matching items", "plan", "recall@10 Node", "recall@10 HTTP", "results passing", "short answers", "KB / query mean (max)", "KV rounds max", "e2e p50 ms"];
  const rows = r.cases.map((c) => {
    const plans = Object.entries(c.plans).map(([p, n]) => (n === r.meta.queries ? p : `${p} ${n}`)).join(", ");
    const passing = Math.min(c.node.passing, c.http?.passing ?? 1);
    const rounds = Math.max(c.node.roundTrips.max, c.http?.roundTrips.max ?? 0);
    const bytesMax = Math.max(c.node.bytes.max, c.http?.bytes.max ?? 0);
    return [
      `${c.name}${c.filter ? `<br>\`${JSON.stringify(c.filter)}\`` : ""}`,
      `${c.matching.toLocaleString("en")} (${pct(c.selectivity)})`,
      plans,
      c.node.recallAt10.toFixed(3),
      c.http ? c.http.recallAt10.toFixed(3) : "unmeasured",
      pct(passing),
      String(c.node.short + (c.http?.short ?? 0)),
      `${kb(c.node.bytes.mean)} (${kb(bytesMax)})`,
      String(rounds),
      c.http ? c.http.e2eMs.p50.toFixed(1) : "unmeasured",
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return `# Filters: recall by selectivity (${r.meta.items.toLocaleString("en")} items)

Generated by \`${r.meta.command ?? `npm run bench -- --filters --corpus ../shared/data/${r.meta.corpus}`}\` (with \`--json\`/\`--md\`)
on ${r.meta.date} (index ${r.meta.version}), ${r.meta.machine.cpus} cores, Node ${r.meta.node}, ${r.meta.load ? `load average ${r.meta.load.start} at the start, ${r.meta.load.end} at the end, commit ${r.meta.commit?.slice(0, 10)}` : `load average at the end ${r.meta.machine.loadAvg?.join(" / ")}`}
(timings on this shared machine are noisy; recall, bytes and rounds are deterministic).

Each of the ${r.meta.queries} bench queries (questions + perturbed headlines) runs with each filter; recall@10 is
against exact float32 search over the items that pass the filter. Filterable: ${r.meta.filterable.join(", ")}.
"Results passing" is the share of returned items whose metadata pass the filter; "short answers" counts
queries that got fewer than min(k, matching items) results. Plans: \`scan\` reads the value-order column chunks
that can hold a match and scores every matching item; \`cells\` reads the cell-order chunks that can hold one
of the query's nearest cells, as far as round 1's cap goes, where the build found the cells hold neighbours
tightly enough; \`probe\` reads the nearest leaves that can hold one, with their attributes, probing further the
more selective the filter (lib/index/filtered-search.ts).

${line(head)}
${line(head.map(() => "---"))}
${rows.map(line).join("\n")}
`;
}
