// The headline figures the README and docs/benchmarks.md show, each read from
// the JSON report that holds it: the tables between `<!-- figures:NAME -->` and
// `<!-- /figures:NAME -->` are generated (`npm run docs`), never typed, and a
// test fails when one disagrees with its report.
import { readFile } from "node:fs/promises";
import path from "node:path";

/** One line of a figures table. */
export interface FigureRow {
  /** What the figure is, in words. */
  what: string;
  /** The report under docs/ (base name) the value comes from; the row links its Markdown. */
  report: string;
  /** The value, formatted, from the parsed report. */
  value(report: any): string;
  /** The target it is judged against, if any. */
  target?: string;
}

const f3 = (x: number) => x.toFixed(3);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
/** A deploy's KV writes and stored bytes. */
const writes = (w: { writes: number; bytes: number }) => `${w.writes.toLocaleString("en")} (${(w.bytes / 2 ** 30).toFixed(2)} GiB)`;
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** One method's row of one set of the hybrid report (scripts/bench/hybrid.ts). */
function hybridRow(r: any, set: string, method: string): any {
  const rows = r.sets.find((s: any) => s.name.startsWith(set))?.rows ?? [];
  const row = rows.find((x: any) => x.method.startsWith(method));
  if (!row) throw new Error(`bench-hybrid has no "${method}" row in "${set}"`);
  return row;
}
/** The incremental section of the hybrid report: the lexical values of the changed version the base lacks. */
function lexicalRewrite(r: any): string {
  const k = r.incremental?.kinds.find((x: { kind: string }) => x.kind === "lexical");
  if (!k) throw new Error("bench-hybrid has no incremental lexical row");
  return `${k.rewritten} of ${k.values} (${((100 * k.rewritten) / k.values).toFixed(1)}%)`;
}
/** The filter of lowest recall among those matching at least `min` of the items, with the plans and the largest read. */
function worstFilter(r: any, min: number): string {
  const cases = r.cases.filter((c: any) => c.filter !== null && c.selectivity >= min);
  if (!cases.length) throw new Error("a filters report has no filtered case");
  const worst = cases.reduce((a: any, b: any) => (b.node.recallAt10 < a.node.recallAt10 ? b : a));
  const maxKb = Math.max(...cases.map((c: any) => c.node.bytes.max));
  return `${f3(worst.node.recallAt10)} (${worst.name}), ${kb(maxKb)} max`;
}
/** recall@10 of the scale report's filter case whose name starts with `name`. */
function tenMillionFilter(r: any, name: string): string {
  const c = r.filters?.find((f: { name: string }) => f.name.startsWith(name));
  if (!c) throw new Error(`bench-10m has no "${name}" filter`);
  return f3(c.recallAt10);
}
const mrr = (r: any, set: string) => `${f3(hybridRow(r, set, "hybrid (").mrrAt10)} (semantic ${f3(hybridRow(r, set, "semantic").mrrAt10)}, lexical ${f3(hybridRow(r, set, "lexical").mrrAt10)})`;

export const FIGURE_TABLES: Record<string, FigureRow[]> = {
  headline: [
    { what: "50k headlines: recall@10 through HTTP, 2 KV rounds", report: "bench-50k", value: (r) => f3(r.project.recallAt10), target: "≥ 0.97" },
    { what: "50k headlines: KB read per query (mean)", report: "bench-50k", value: (r) => kb(r.project.bytes.mean), target: "≤ 256 KB" },
    { what: "50k headlines: bytes Annoy reads for the same recall", report: "bench-50k", value: (r) => `${r.ratios.annoyOverProjectBytesAtTarget.toFixed(1)}×` },
    { what: "50k headlines: warm /search p50 ÷ /embed p50", report: "bench-50k", value: (r) => r.targets.e2eOverEmbed.value.toFixed(2), target: "≤ 1.5" },
    { what: "50k headlines: search compute p50 in the Worker", report: "bench-50k", value: (r) => ms(r.targets.computeP50Ms.value), target: "≤ 5 ms" },
    { what: "50k headlines: isolate memory with the resident copy", report: "bench-50k", value: (r) => mib(r.project.memory.isolateSteadyBytes), target: "≤ 128 MB" },
    { what: "Hybrid, STS-B retrieval: MRR@10", report: "bench-hybrid", value: (r) => mrr(r, "STS-B"), target: "≥ 0.89" },
    { what: "Hybrid, rare-word known items from the 50k headlines: MRR@10", report: "bench-hybrid", value: (r) => mrr(r, "50k") },
    { what: "Hybrid at 50k: KB read per query (mean), KV rounds", report: "bench-hybrid", value: (r) => `${kb(hybridRow(r, "50k", "hybrid (").bytes)}, ${hybridRow(r, "50k", "hybrid (").rounds}`, target: "≤ 320 KB, ≤ 2" },
    { what: "Hybrid at 50k: search compute p50 in the Worker; isolate memory with today's caches", report: "latency-50k", value: (r) => `${ms(r.hybrid.compute.p50)}; ${mib(r.memory.isolateSteadyBytes)}`, target: "≤ 5 ms; ≤ 100 MiB" },
    { what: "Hybrid at 50k: lexical values a 1% corpus change rewrites", report: "bench-hybrid", value: (r) => lexicalRewrite(r), target: "≤ 3%" },
    { what: "1.2M items: recall@10 (300 held-out queries), Node and HTTP", report: "bench-1.2m", value: (r) => `${f3(r.node.recallAt10)} / ${f3(r.worker.recallAt10)}`, target: "≥ 0.95" },
    { what: "1.2M items, a noisier synthetic set (--scale-noise): recall@10 in Node, KB per query (mean)", report: "bench-1.2m-noise", value: (r) => `${f3(r.node.recallAt10)} (noise ${r.generator.noise}), ${kb(r.node.bytes.mean)}`, target: "≥ 0.95, ≤ 768 KB" },
    { what: "1.2M items: KB read per query (mean / p95)", report: "bench-1.2m", value: (r) => `${kb(r.node.bytes.mean)} / ${kb(r.node.bytes.p95)}`, target: "≤ 768 KB" },
    { what: "1.2M items, hybrid: KB read per query (mean), KV rounds, search compute p50 through HTTP", report: "bench-1.2m", value: (r) => `${kb(r.hybrid.bytes.mean)}, ${r.hybrid.roundTrips.max}, ${ms(r.worker.hybrid.compute.p50)}`, target: "≤ 768 KB, ≤ 2, ≤ 10 ms" },
    { what: "50k headlines, filters of every selectivity: lowest recall@10, largest read", report: "bench-filters", value: (r) => worstFilter(r, 0), target: "≥ 0.97, ≤ 1 MB" },
    { what: "1.2M items, filters matching ≥ 0.5% of the items: lowest recall@10, largest read", report: "bench-filters-1.2m", value: (r) => worstFilter(r, 0.005), target: "≥ 0.95, ≤ 1 MB" },
    { what: "1.2M items, the noisier set: filters matching ≥ 0.5% of the items, lowest recall@10, largest read", report: "bench-filters-1.2m-noise", value: (r) => worstFilter(r, 0.005), target: "≥ 0.95, ≤ 1 MB" },
    { what: "1.2M items: build time, peak RSS", report: "bench-1.2m", value: (r) => `${(r.build.seconds.total / 60).toFixed(1)} min, ${(r.build.peakRssBytes / 2 ** 30).toFixed(2)} GiB` },
    { what: "1.2M items: cold first query", report: "bench-1.2m", value: (r) => `${(r.worker.cold.e2eMs / 1000).toFixed(2)} s`, target: "≤ 1 s" },
    { what: "1.2M items, the streamed build from --vectors (the code of the 10M run): build time, peak RSS, recall@10 in Node", report: "bench-1.2m-streamed", value: (r) => `${(r.build.seconds.total / 60).toFixed(1)} min, ${(r.build.peakRssBytes / 2 ** 30).toFixed(2)} GiB, ${f3(r.node.recallAt10)}`, target: "≤ 20 min, ≤ 6 GiB, ≥ 0.95" },
    { what: "10M items (streamed build): recall@10 unfiltered, 1 week, 1 month (Node, 300 held-out queries)", report: "bench-10m", value: (r) => `${f3(r.node.recallAt10)}, ${tenMillionFilter(r, "1 week")}, ${tenMillionFilter(r, "1 month")}`, target: "≥ 0.95" },
    { what: "10M items: KB read per query (mean / max), KV rounds", report: "bench-10m", value: (r) => `${kb(r.node.bytes.mean)} / ${kb(r.node.bytes.max)}, ${r.node.roundTrips.max}`, target: "≤ 768 KB mean, ≤ 2" },
    { what: "10M items: in-isolate routing + filter table + lexicon head", report: "bench-10m", value: (r) => mib(r.isolate.totalBytes), target: "≤ 32 MiB" },
    { what: "10M items: build from vectors, peak RSS", report: "bench-10m", value: (r) => `${(r.build.seconds.total / 60).toFixed(1)} min, ${(r.build.peakRssBytes / 2 ** 30).toFixed(2)} GiB`, target: "≤ 2 h, ≤ 8 GiB" },
    { what: "10M items: KV writes of a full deploy; after a 1% change, built (estimated)", report: "bench-10m", value: (r) => `${writes(r.kv.full)}; ${r.kvMeasured ? writes(r.kvMeasured) : "not built"} (${writes(r.kv.change)})` },
    { what: "10k items: a build from cached embeddings, wall time of the whole command", report: "build-10k", value: (r) => `${r.wallSeconds.median.toFixed(1)} s (self-check recall@10 ${f3(r.selfCheck.recallAt10)})`, target: "≤ 20 s" },
    { what: "Load test: queries/s from 16 clients, p50 latency, malformed answers", report: "reliability", value: (r) => `${r.load.queriesPerSecond.toFixed(1)} q/s, ${r.load.latencyMs.p50} ms, ${r.load.malformed}` },
  ],
  "embed-fleet": fleetFigures(),
};

/** docs/embed-fleet.md's figures, from the fleet bench (scripts/bench/embed-fleet.ts). */
function fleetFigures(): FigureRow[] {
  const report = "embed-fleet-bench";
  const run = (r: any, k: number) => r.runs.find((x: { instances: number }) => x.instances === k) ?? {};
  const est = (r: any, items: number) => r.estimates.find((e: { items: number }) => e.items === items);
  const usd = (x: number) => `$${x.toFixed(2)}`;
  const rows: FigureRow[] = [1, 2, 4].map((k) => ({ what: `${k} local Worker(s): items/s (2 cores shared)`, report, value: (r) => String(run(r, k).itemsPerSecond ?? "–") }));
  rows.push(
    { what: "CPU per item inside the Worker (workerd, 1 instance)", report, value: (r) => ms(run(r, 1).workerdCpuMsPerItem) },
    { what: "model time per item (Server-Timing, 1 instance)", report, value: (r) => ms(run(r, 1).embedMsPerItem) },
    { what: "the build's CPU per item (send, parse)", report, value: (r) => ms(run(r, 1).clientCpuMsPerItem) },
  );
  for (const items of [1_200_000, 10_000_000]) {
    const n = items === 1_200_000 ? "1.2M" : "10M";
    rows.push(
      { what: `${n} items: Workers CPU; cost all billed / month's allowance unused`, report, value: (r) => `${(est(r, items).cpuMs / 1e6).toFixed(1)} M CPU-ms; ${usd(est(r, items).usdMarginal)} / ${usd(est(r, items).usdWithAllowance)}` },
      { what: `${n} items: hours at 8 / 32 / 128 isolates (fleet alone)`, report, value: (r) => est(r, items).hoursAt.map((h: { fleetHours: number }) => h.fleetHours).join(" / ") },
    );
  }
  return rows;
}

/** The Markdown table of FIGURE_TABLES[name], its links relative to `fromDir` (the page's folder, relative to the root). */
export async function renderFigures(root: string, name: string, fromDir: string): Promise<string> {
  const rows = FIGURE_TABLES[name];
  if (!rows) throw new Error(`no figures table "${name}" in scripts/docs/figures.ts`);
  const reports = new Map<string, unknown>();
  const lines = ["| figure | value | target | report |", "| --- | --- | --- | --- |"];
  for (const row of rows) {
    if (!reports.has(row.report)) reports.set(row.report, JSON.parse(await readFile(path.join(root, "docs", `${row.report}.json`), "utf8")));
    const link = path.posix.relative(fromDir, `docs/${row.report}.md`);
    lines.push(`| ${row.what} | ${row.value(reports.get(row.report))} | ${row.target ?? "–"} | [${row.report}](${link}) |`);
  }
  return lines.join("\n");
}

const BLOCK = /(<!-- figures:([a-z0-9-]+) -->\n)([\s\S]*?)(\n<!-- \/figures:\2 -->)/g;

/** `text` with every figures block re-rendered; `file` is its path relative to the root. */
export async function refreshFigureBlocks(root: string, file: string, text: string): Promise<string> {
  const fromDir = path.posix.dirname(file);
  const blocks = [...text.matchAll(BLOCK)];
  let out = text;
  for (const m of blocks) out = out.replace(m[0], `${m[1]}${await renderFigures(root, m[2], fromDir)}${m[4]}`);
  return out;
}
