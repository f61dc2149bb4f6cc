// The bench result as tables for people (Markdown, also printed), the curve as
// CSV rows, and the figure's series.
import type { BaselineResult, BenchResult } from "./run.ts";
import type { Series } from "./plot.ts";
import { bytesAtRecall, type Repeated } from "./stats.ts";
import type { LatencyFigures, LatencyReport, LatencyTargets } from "./latency.ts";
import type { HybridRun, ResidentHealth } from "./http-client.ts";
import { PROBE_SPREAD } from "../../lib/index/leaves.ts";
import { selfCheckVsHeldOut } from "./self-check-line.ts";

export function kb(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return "—";
  if (b >= 10 * 2 ** 20) return `${(b / 2 ** 20).toFixed(0)} MB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(2)} MB`;
  return `${(b / 1024).toFixed(1)} KB`;
}
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "—");
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "—");
const rep = (r: Repeated, d = 1) => `${r.median.toFixed(d)} (${r.min.toFixed(d)}–${r.max.toFixed(d)})`;
const ratio = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? "—" : `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`);

const yes = (pass: boolean) => (pass ? "yes" : "**no**");

const LATENCY_NOTE =
  "The timed runs repeat the query set in a warm isolate; the KV row says what they still read from KV: with the records resident, only shards the shard cache lost; without, also a query's item records whenever the record cache cannot hold the whole set's. " +
  "Local KV (Miniflare) reads the keys of a bulk read one after another, so its waits grow with the keys read, unlike production's. " +
  "workerd's clock ticks in whole milliseconds, so per-query Worker timings are whole numbers; their means are finer.";

/** Issue 8's two latency targets, as rows of a Targets table. */
export function latencyTargetRows(L: LatencyFigures, t: LatencyTargets): string[][] {
  return [
    [
      `warm end-to-end p50: /search ÷ /embed of one text (same run, same client) ≤ ${t.e2eOverEmbed.target}`,
      `${t.e2eOverEmbed.value.toFixed(2)} (${f1(L.e2e.p50.median)} ÷ ${f1(L.embedEndpoint.e2e.p50.median)} ms; runs ${rep(L.e2eOverEmbedP50, 2)}); local KV's waits taken out: ${L.e2eLessKvOverEmbedP50.median.toFixed(2)}`,
      yes(t.e2eOverEmbed.pass),
    ],
    [`search compute p50 (Worker CPU, KV waits excluded) ≤ ${t.computeP50Ms.target} ms`, `${rep(L.compute.p50)} ms`, yes(t.computeP50Ms.pass)],
  ];
}

/** Where a warm /search's time goes, beside /embed of the same text. */
export function latencyRows(L: LatencyFigures): string[][] {
  return [
    ["latency end to end p50 / p95 / p99 (ms)", `${rep(L.e2e.p50)} / ${rep(L.e2e.p95)} / ${rep(L.e2e.p99)}`],
    ["— embed (Worker timing) p50 / p95 / p99", `${rep(L.embed.p50)} / ${rep(L.embed.p95)} / ${rep(L.embed.p99)}`],
    ["— search (Worker timing) p50 / p95 / p99", `${rep(L.search.p50, 2)} / ${rep(L.search.p95, 2)} / ${rep(L.search.p99, 2)}`],
    [
      "— of it, waiting for KV p50 / p95 / mean (rounds and bytes read from KV per timed query, mean)",
      `${rep(L.kv.p50)} / ${rep(L.kv.p95)} / ${rep(L.kv.mean, 2)} (${f1(L.kvRounds.mean.median)} rounds, ${kb(L.kvBytes.mean.median)})`,
    ],
    ["— of it, compute (KV waits excluded) p50 / p95 / mean", `${rep(L.compute.p50)} / ${rep(L.compute.p95)} / ${rep(L.compute.mean, 2)}`],
    ["— HTTP + JSON + routing p50", rep(L.overhead.p50, 2)],
    ["`POST /embed` of one text (each query's, after its search) end to end p50 / p95; Worker's embed p50", `${rep(L.embedEndpoint.e2e.p50)} / ${rep(L.embedEndpoint.e2e.p95)}; ${rep(L.embedEndpoint.embed.p50)}`],
  ];
}

/** The hybrid-mode pass's row (none in reports from before it, or for an index without a lexicon). */
export function hybridRows(h: HybridRun | null | undefined): string[][] {
  if (!h) return [];
  return [["hybrid mode, one pass: search compute p50 / p95; KB fetched (mean); KV rounds (max)", `${h.compute.p50.toFixed(1)} / ${h.compute.p95.toFixed(1)} ms; ${(h.kvBytes.mean / 1024).toFixed(1)} KB; ${h.kvRounds.max}`]];
}

export function memoryRow(m: LatencyReport["memory"]): string[] {
  return [
    "steady isolate memory (JS heap after GC + ArrayBuffers + wasm heap)",
    `${mib(m.isolateSteadyBytes)} MiB (${mib(m.jsHeapAfterGcBytes)} + ${mib(m.arrayBufferBytes ?? 0)} + ${mib(m.wasmHeapBytes)}); workerd RSS ${(m.workerdRssBytes / 2 ** 20).toFixed(0)} MiB`,
  ];
}

/** Whether the timed passes re-ranked from the isolate's resident records (functions/resident-load.ts). */
export function residentRow(r: ResidentHealth | undefined): string[] {
  const label = "resident records (round 2 from isolate memory)";
  if (!r || r.state === "none") return [label, "none: the build wrote no resident copy (records over 32 MiB), every record comes from KV"];
  const size = `${(r.items ?? 0).toLocaleString("en")} records, ${mib(r.bytes ?? 0)} MiB`;
  if (r.state === "loaded") return [label, `loaded: ${size}, in ${r.load_ms} ms after the first request`];
  return [label, `${r.state}${r.error ? ` (${r.error})` : ""}: ${size}; every record comes from KV`];
}

/** `npm run bench -- --latency`: the targets and the breakdown alone. */
export function latencyMarkdown(r: LatencyReport): string {
  const m = r.meta;
  const L = r.latency;
  return [
    `# Warm latency through HTTP: ${m.index} (${m.items} items)`,
    "",
    `${m.date} · commit \`${m.commit.slice(0, 12)}\` · ${m.cpu}, ${m.cores} cores · load average ${m.load.start.toFixed(2)} at start, ${m.load.end.toFixed(2)} at end · ${m.queries} queries × ${m.repeats} timing runs, shown as median (min–max) · took ${m.seconds.toFixed(0)} s`,
    "",
    table(["target", "value", "met"], latencyTargetRows(L, r.targets)),
    "",
    table(["figure", "value"], [...latencyRows(L), ...hybridRows(r.hybrid), memoryRow(r.memory), residentRow(r.resident)]),
    "",
    LATENCY_NOTE,
    "",
  ].join("\n");
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** A report section that is a title and a two-column table of figures, then any notes. */
function figureSection(title: string, rows: Array<Array<string | number>>, ...notes: string[]): string[] {
  return [title, "", table(["figure", "value"], rows), "", ...notes];
}

function baselineRows(b: BaselineResult, knob: string, roundsLabel: string): string {
  return table(
    [knob, "recall@10", "recall@1", "q/s in Node (median, min–max)", "vectors read", "KV bytes/query (int8 vectors + structure)", "p95", "with float32 vectors", roundsLabel, "replay agrees"],
    b.points.map((p) => [
      p.knob,
      f3(p.recallAt10),
      f3(p.recallAt1),
      rep(p.qps, 0),
      p.vectorsRead.toFixed(0),
      kb(p.bytes),
      kb(p.bytesP95),
      kb(p.bytesF32),
      `${f1(p.rounds.mean)} / ${f1(p.rounds.p95)}`,
      `${(p.replayAgreement * 100).toFixed(1)}%`,
    ]),
  );
}

/** The full bench's report: one named section per part of the run, in the order a reader wants them. */
export function markdown(r: BenchResult): string {
  const sections = [headerSection, targetsSection, projectSection, exactSection, seedSection, baselinesSection, buildSection, curveSection];
  return sections.map((section) => section(r).join("\n")).join("\n") + "\n";
}

function headerSection(r: BenchResult): string[] {
  const m = r.meta;
  return [
    `# Benchmark: ${m.corpus.file} (${m.corpus.items} items)`,
    "",
    `${m.date} · commit \`${m.git.commit.slice(0, 12)}\`${m.git.dirty ? " (tree had uncommitted changes)" : ""} · ${m.cpu.model}, ${m.cpu.cores} cores · Node ${m.node} · ` +
      `${m.queries.count} queries (${Object.entries(m.queries.byKind).map(([k, v]) => `${v} ${k}`).join(", ")}; ${m.queries.source}) · k = ${m.k} · timing runs: ${m.repeats}, shown as median (min–max) · bench took ${(m.seconds / 60).toFixed(1)} min` +
      (m.load ? ` · load average ${m.load.start.toFixed(2)} at start, ${m.load.end.toFixed(2)} at end` : ""),
    "",
    "Ground truth: exact float32 cosine search over the build's embeddings (vectors.f32), queries embedded by the Node embedder (same model and weights as the Worker). The machine is shared, so absolute times are noisy; the ratios are taken in the same run.",
    "",
  ];
}

function targetsSection(r: BenchResult): string[] {
  const alt = annoyAccountings(r);
  return [
    "## Targets",
    "",
    table(
      ["target", "value", "met"],
      [
        [`recall@10 ≥ ${r.targets.recallAt10.target} (through HTTP, default knobs)`, f3(r.targets.recallAt10.value), yes(r.targets.recallAt10.pass)],
        [`bytes/query at recall@10 = ${r.meta.targetRecall}: Annoy (${r.annoy.params.trees} trees) ÷ project ≥ 10×`, ratio(r.targets.bytesVsAnnoy.value), yes(r.targets.bytesVsAnnoy.pass)],
        ...latencyTargetRows(r.project.latency, r.targets),
      ],
    ),
    "",
    `The Annoy figure above counts each candidate vector as raw int8 (512 B), the accounting most favourable to Annoy. Counted as a KV value would carry it — base64 text, as the project's own values are counted — Annoy ÷ project is ${ratio(alt.base64)}; with the float32 vectors Annoy actually stores, ${ratio(alt.f32)}.`,
    "",
  ];
}

function probeKnob(params: BenchResult["build"]["params"]): string {
  return `${params.nprobe}${params.probeMargin === undefined ? "" : ` (more within ${params.probeMargin} of the best leaf's score, up to ${PROBE_SPREAD * params.nprobe})`}`;
}

function rerankKnob(params: BenchResult["build"]["params"]): string {
  return `${params.rerankMargin === undefined ? "" : `those within ${params.rerankMargin} of the 10th best PQ score, at most `}${params.rerank}`;
}

function projectSection(r: BenchResult): string[] {
  const p = r.project;
  const params = r.build.params;
  return figureSection(
    "## 1. The project through HTTP (Worker in workerd, local KV, Node client over loopback)",
    [
      ["recall@1 / recall@10", `${f3(p.recallAt1)} / ${f3(p.recallAt10)}`],
      ["recall@10 by query kind", Object.entries(p.recallAt10ByKind).map(([k, v]) => `${k} ${f3(v)}`).join(", ")],
      ...(r.build.selfCheck?.byKind ? [["self-check vs held-out", selfCheckVsHeldOut(r.build.selfCheck, p.recallAt10, p.recallAt10ByKind)]] : []),
      [`index knobs`, `${params.leaves} leaves (leaf size ${r.build.leafSize}), nprobe ${probeKnob(params)}, rerank ${rerankKnob(params)}, PQ ${params.pqM} B/item`],
      ["records re-ranked per query (mean / p50 / p95)", `${f1(p.records.mean)} / ${f1(p.records.p50)} / ${f1(p.records.p95)}`],
      ["shards per query (mean / p95)", `${f1(p.shards.mean)} / ${f1(p.shards.p95)}`],
      ["bytes needed per query (mean / p95)", `${kb(p.bytes.mean)} / ${kb(p.bytes.p95)}`],
      ["bytes fetched from KV per query, warm isolate cache (mean / p95)", `${kb(p.fetchedBytes.mean)} / ${kb(p.fetchedBytes.p95)}`],
      ["sequential KV rounds: warm isolate (mean / p95); cold, no cache (mean / p95)", `${f1(p.roundTrips.mean)} / ${f1(p.roundTrips.p95)}; ${f1(p.uncached.roundTrips.mean)} / ${f1(p.uncached.roundTrips.p95)}`],
      ...latencyRows(p.latency),
      ["cold first query (model + index load from KV)", `${f1(p.cold.e2eMs)} ms end to end (model load ${p.cold.modelLoadMs ?? "—"} ms, Worker total ${f1(p.cold.serverTotalMs)} ms)`],
      memoryRow(p.memory),
      residentRow(p.resident),
      ...hybridRows(p.hybrid),
      ...Object.entries(p.qps).map(([c, q]): [string, string] => [`queries per second, ${c} concurrent client${c === "1" ? "" : "s"}`, rep(q)]),
    ],
    "Bytes needed counts every shard and record a query uses, as if nothing were cached (what a cold isolate reads); fetched is what this warm isolate actually read from KV.",
    "",
    LATENCY_NOTE,
    "",
    "",
  );
}

function exactSection(r: BenchResult): string[] {
  const e = r.exactWorker;
  return figureSection(
    "## 2. Exact search in the Worker (every item record read from KV, int8 re-score)",
    [
      ["queries", `${e.queries}${e.error ? ` (stopped early: ${e.error})` : ""}`],
      ["recall@10 vs float32", f3(e.recallAt10)],
      ["latency end to end p50 / max (ms)", `${f1(e.e2e.p50)} / ${f1(e.e2e.max)}`],
      ["search (Worker timing) p50 (ms)", f1(e.search.p50)],
      ["bytes per query / records / KV rounds", `${kb(e.bytes)} / ${e.records.toFixed(0)} / ${e.roundTrips.toFixed(0)}`],
      ["exact float32 in Node (ms/query, vectors in memory)", f1(r.exactNode.msPerQuery)],
      ["ratio exact ÷ project: search time p50, end to end p50, bytes", `${ratio(r.ratios.exactOverProjectSearchMsP50)}, ${ratio(r.ratios.exactOverProjectE2eMsP50)}, ${ratio(r.ratios.exactOverProjectBytes)}`],
    ],
  );
}

function seedSection(r: BenchResult): string[] {
  return [
    `## 3. The seed's pipeline: ${r.seed.projection} random projection to ${r.seed.params.dim}-d, Annoy ${r.seed.params.trees} trees, default search`,
    "",
    baselineRows(r.seed, "search_k", "tree levels + 1 (mean / p95)"),
    "",
    `recall@10 against the 512-d exact answer: **${f3(r.seed.points[0].recallAt10)}** (project: ${f3(r.project.recallAt10)}, ${ratio(r.ratios.projectOverSeedRecallAt10)}). Index ${kb(r.seed.indexBytes)} (${r.seed.indexBytesPerItem.toFixed(0)} B/item).`,
    "",
  ];
}

function builtIn(seconds: number | null): string {
  return seconds !== null ? `, built in ${f1(seconds)} s` : " (cached build)";
}

function baselinesSection(r: BenchResult): string[] {
  const p = r.project;
  return [
    `## 4. Annoy and hnswlib on the full ${r.annoy.params.dim}-d vectors`,
    "",
    `Annoy ${r.annoy.params.trees} trees: index ${kb(r.annoy.indexBytes)} = ${r.annoy.indexBytesPerItem.toFixed(0)} B/item${builtIn(r.annoy.buildSeconds)}. ` +
      "KV bytes per query = the distinct candidate items whose vectors Annoy compares (≤ search_k; int8, 512 B each — generous to Annoy, which stores float32) + the split and bucket nodes it pops (as stored). Rounds = deepest tree level popped + 1 for the candidates: a lower bound, since a KV layout must walk levels one round each.",
    "",
    baselineRows(r.annoy, "search_k", "rounds ≥ (mean / p95)"),
    "",
    `hnswlib M ${r.hnsw.params.M}, efConstruction ${r.hnsw.params.efConstruction}: index ${kb(r.hnsw.indexBytes)} = ${r.hnsw.indexBytesPerItem.toFixed(0)} B/item${builtIn(r.hnsw.buildSeconds)}. ` +
      "Counted by replaying hnswlib's searchKnn over its saved graph: KV bytes = every node whose vector is compared (int8, 512 B) + the neighbour lists read; rounds = nodes expanded (greedy steps in the upper layers + pops in layer 0), each depends on the distances of the previous one, so each is a KV round trip.",
    "",
    baselineRows(r.hnsw, "ef", "dependent rounds (mean / p95)"),
    "",
    table(
      [`at recall@10 = ${r.meta.targetRecall} (interpolated)`, "bytes/query", "KV rounds", "ratio to project"],
      [
        ["project (probes swept, default re-rank)", kb(p.bytesAtTarget), f1(p.uncached.roundTrips.mean), "1×"],
        [`Annoy ${r.annoy.params.trees} trees (search_k swept)`, kb(r.annoy.bytesAtTarget), "≥ " + f1(r.annoy.points[0]?.rounds.mean ?? NaN), ratio(r.ratios.annoyOverProjectBytesAtTarget)],
        [`hnswlib M ${r.hnsw.params.M} (ef swept)`, kb(r.hnsw.bytesAtTarget), hnswRoundsAt(r), ratio(r.ratios.hnswOverProjectBytesAtTarget)],
      ],
    ),
    "",
    hnswNote(r),
    "",
  ];
}

/** Fewer computed embeddings than this make a poor rate; the bench then times a sample instead. */
const MIN_COMPUTED_FOR_RATE = 500;

function embeddingRate(emb: BenchResult["build"]["embeddings"]): string {
  if (emb.computed >= MIN_COMPUTED_FOR_RATE) return `${emb.perSecondPerThread} (${emb.perSecond}/s on ${emb.threads} threads, ${emb.computed} computed)`;
  if (emb.sample) return `${emb.sample.perSecondPerCore.toFixed(1)} (${emb.sample.perSecond.toFixed(1)}/s on ${emb.sample.threads} threads, a ${emb.sample.texts}-text sample: the build took its embeddings from the cache)`;
  return "—";
}

function buildSection(r: BenchResult): string[] {
  const b = r.build;
  return figureSection(
    "## 5. Build",
    [
      ["seconds per stage", Object.entries(b.seconds).map(([k, v]) => `${k} ${v}`).join(", ")],
      ["embeddings per second per core", embeddingRate(b.embeddings)],
      ["stored bytes per item (routing + shards + records + manifest)", `${b.bytesPerItem} B`],
      ["peak RSS of the build", `${(b.peakRssBytes / 2 ** 20).toFixed(0)} MiB`],
      ["build reused from the bench cache", b.reused ? "yes (figures are from the run that built it)" : "no"],
    ],
  );
}

/** Per leaf size and rerank, the cheapest point of the curve that reaches the target recall. */
function cheapestAtTarget(r: BenchResult): BenchResult["curve"] {
  const best = new Map<string, (typeof r.curve)[number]>();
  for (const c of r.curve) {
    const key = `${c.leafSize}/${c.rerank}`;
    if (c.recallAt10 >= r.meta.targetRecall && (!best.has(key) || c.meanBytes < best.get(key)!.meanBytes)) best.set(key, c);
  }
  return [...best.values()];
}

function curveSection(r: BenchResult): string[] {
  return [
    "## Recall vs bytes over the index's knobs",
    "",
    "![recall vs bytes](recall-vs-bytes.png)",
    "",
    table(
      ["leaf size", "leaves", "rerank", `cheapest nprobe reaching ${r.meta.targetRecall}`, "recall@10", "bytes/query"],
      cheapestAtTarget(r).map((c) => [c.leafSize, c.leaves, c.rerank, c.nprobe, f3(c.recallAt10), kb(c.meanBytes)]),
    ),
    "",
    "Full grid in recall-vs-bytes.csv.",
  ];
}

/** Annoy ÷ project bytes at the target recall under the other two accountings of a candidate vector. */
export function annoyAccountings(r: BenchResult): { base64: number | null; f32: number | null } {
  const t = r.meta.targetRecall;
  const pb = r.project.bytesAtTarget;
  const at = (f: (p: BenchResult["annoy"]["points"][number]) => number) => bytesAtRecall(r.annoy.points.map((p) => ({ bytes: f(p), recall: p.recallAt10 })), t);
  const b64 = at((p) => ((p.bytes - p.structureBytes) * 4) / 3 + p.structureBytes);
  const f32 = at((p) => p.bytesF32);
  return { base64: b64 && pb ? b64 / pb : null, f32: f32 && pb ? f32 / pb : null };
}

function hnswRoundsAt(r: BenchResult): string {
  const pts = r.hnsw.points.filter((p) => p.recallAt10 >= r.meta.targetRecall);
  return pts.length ? f1(pts[0].rounds.mean) : "—";
}

function hnswNote(r: BenchResult): string {
  const t = r.meta.targetRecall;
  const h = r.hnsw.points.find((p) => p.recallAt10 >= t);
  const pb = r.project.bytesAtTarget;
  if (!h) return `hnswlib did not reach recall@10 ${t} at the ef values tried.`;
  const fewerBytes = pb !== null && h.bytes < pb;
  return (
    `**Where hnswlib wins, and whether it carries to the edge.** In Node with everything in memory hnswlib answers ${h.qps.median.toFixed(0)} q/s at ef ${h.knob} (recall@10 ${f3(h.recallAt10)}), ` +
    `${fewerBytes ? `and it touches fewer bytes than the project (${kb(h.bytes)} vs ${kb(pb)})` : `though it touches more bytes than the project (${kb(h.bytes)} vs ${kb(pb)})`}. ` +
    `But those bytes come in ${f1(h.rounds.mean)} dependent steps on average (p95 ${f1(h.rounds.p95)}): each node to expand is known only after the previous node's neighbours were scored. ` +
    `In memory a step costs nanoseconds; from KV each is a round trip (milliseconds at best on a warm edge cache, tens of ms on a miss), so a graph index in KV would pay ~${f1(h.rounds.mean)} round trips per query against the project's ${f1(r.project.uncached.roundTrips.mean)}. ` +
    `It carries to the edge only if the whole graph and vectors (${kb(r.hnsw.indexBytes)}) sit in isolate memory, which the 128 MB isolate limit rules out beyond small corpora.`
  );
}

export function curveRows(r: BenchResult): Array<Record<string, string | number | boolean | null>> {
  const rows: Array<Record<string, string | number | boolean | null>> = r.curve.map((c) => ({
    method: "project",
    leaf_size: c.leafSize,
    leaves: c.leaves,
    nprobe: c.nprobe,
    rerank: c.rerank,
    knob: null,
    recall_at_10: c.recallAt10,
    recall_at_1: c.recallAt1,
    mean_bytes: c.meanBytes,
    p95_bytes: c.p95Bytes,
    is_default: c.isDefault,
  }));
  for (const [method, b] of [
    ["annoy", r.annoy],
    ["hnswlib", r.hnsw],
    ["seed_rp64_annoy", r.seed],
  ] as const) {
    for (const p of b.points) rows.push({ method, leaf_size: null, leaves: null, nprobe: null, rerank: null, knob: p.knob, recall_at_10: p.recallAt10, recall_at_1: p.recallAt1, mean_bytes: p.bytes, p95_bytes: p.bytesP95, is_default: false });
  }
  return rows;
}

const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#bcbd22", "#e377c2"];

export function figureSeries(r: BenchResult): Series[] {
  const series: Series[] = [];
  const mainLeaf = r.build.leafSize;
  const groups = new Map<string, typeof r.curve>();
  for (const c of r.curve) {
    const key = `leaf ${c.leafSize} · rerank ${c.rerank} (nprobe →)`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(c);
  }
  let i = 0;
  for (const [name, pts] of groups) {
    const def = pts.find((p) => p.isDefault);
    series.push({
      name: `project ${name}`,
      color: PALETTE[i++ % PALETTE.length],
      dashed: pts[0].leafSize !== mainLeaf,
      points: pts.map((p) => ({ x: p.meanBytes, y: p.recallAt10, label: pts[0].leafSize === mainLeaf && p.rerank === r.build.params.rerank ? String(p.nprobe) : undefined })),
      marks: def && pts[0].leafSize === mainLeaf ? [{ x: def.meanBytes, y: def.recallAt10, label: `default (nprobe ${def.nprobe})` }] : undefined,
    });
  }
  series.push({ name: `Annoy ${r.annoy.params.trees} trees (search_k)`, color: "#d62728", points: r.annoy.points.map((p) => ({ x: p.bytes, y: p.recallAt10, label: String(p.knob) })) });
  series.push({ name: `hnswlib M ${r.hnsw.params.M} (ef)`, color: "#ff7f0e", points: r.hnsw.points.map((p) => ({ x: p.bytes, y: p.recallAt10, label: String(p.knob) })) });
  series.push({ name: "seed: RP 64-d + Annoy", color: "#7f7f7f", points: r.seed.points.map((p) => ({ x: p.bytes, y: p.recallAt10 })), marks: r.seed.points.map((p) => ({ x: p.bytes, y: p.recallAt10, label: "seed pipeline" })) });
  return series;
}
