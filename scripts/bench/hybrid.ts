// `npm run bench -- --hybrid`: the quality of the three search modes on two
// visible sets, with the Worker's search code (lib/lexical/hybrid.ts) over the
// built artifacts:
//  - STS-B retrieval, built as issue 20 defines it: the pairs of the STS-B test
//    file scored ≥ 4.0 whose sentences differ; sentence 1 is the query and
//    sentence 2 the one relevant item; pairs whose sentence 2 is itself a query
//    are dropped; the corpus is every distinct sentence that is not a query
//    (336 queries over 2,243 sentences);
//  - known items from the 50k headlines that lean on rare words (knownItems()).
// For each: MRR@10, recall@1 and recall@10 of semantic, lexical, hybrid (default
// fusion) and hybrid with RRF, next to exhaustive BM25 (every item scored, same
// tokenizer) and exact dense search (float32, every item); bytes and KV rounds
// per query; the score-fusion weight swept, which is how the default was chosen.
// Then what a small change of the headlines rewrites when built over that build
// (incremental.ts).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { openIndex, type IndexHandle } from "../../lib/index/reader.ts";
import { DEFAULT_FUSION, DEFAULT_MODE, DEFAULT_SEMANTIC_WEIGHT, searchMode, type ModeOptions } from "../../lib/lexical/hybrid.ts";
import { idf, termCounts, termScore, DEFAULT_BM25 } from "../../lib/lexical/bm25.ts";
import { tokenize } from "../../lib/lexical/tokenize.ts";
import { TopK, dot } from "../../lib/index/vector.ts";
import { rng } from "../builder/training/kernels.ts";
import { MemorySource } from "../artifacts/memory-source.ts";
import { cachedBuild, BENCH_CACHE } from "./build-cache.ts";
import { embedQueries, loadCorpus, type Corpus } from "./truth.ts";
import { mean } from "./stats.ts";
import { finishRun, startRun, type RunMeta } from "../common/run-meta.ts";
import { incrementalMarkdown, measureIncremental, type IncrementalReport } from "./incremental.ts";

export const HYBRID_DEFAULTS = {
  knownItems: 400,
  /** A word is rare when its term is in at most this many headlines. */
  rareDf: 3,
  seed: 20,
  weights: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
};

export interface QuerySet {
  name: string;
  queries: string[];
  /** Ids of the items that count as a hit, per query. */
  relevant: string[][];
}

export interface MethodRow {
  method: string;
  mrrAt10: number;
  recallAt1: number;
  recallAt10: number;
  /** Mean bytes of index values read per query (null: not an index search). */
  bytes: number | null;
  rounds: number | null;
}

export interface SetReport {
  name: string;
  corpus: { file: string; items: number; version: string };
  queries: number;
  rule: string;
  rows: MethodRow[];
  /** Score fusion at each semantic weight. */
  sweep: Array<{ weight: number; mrrAt10: number; recallAt1: number; recallAt10: number }>;
  /** Of exhaustive-list lexical top-10s, the share the bounded prefix finds. */
  prefixRecallAt10: number;
}

export interface HybridReport {
  meta: RunMeta;
  defaults: { mode: string; fusion: string; semanticWeight: number };
  sets: SetReport[];
  incremental: IncrementalReport;
}

/** STS-B retrieval as issue 20 defines it. */
export async function stsbSet(file: string): Promise<{ set: QuerySet; corpus: string[] }> {
  const rows = (await readFile(file, "utf8")).split("\n").filter(Boolean).map((l) => l.replace(/\r$/, "").split("\t"));
  const pairs = rows.filter((r) => Number(r[4]) >= 4.0 && r[5] !== r[6]).map((r) => [r[5], r[6]] as const);
  const queries = new Set(pairs.map((p) => p[0]));
  const kept = pairs.filter(([, s2]) => !queries.has(s2));
  const seen = new Set<string>();
  const corpus: string[] = [];
  for (const r of rows) for (const s of [r[5], r[6]]) if (!queries.has(s) && !seen.has(s)) (seen.add(s), corpus.push(s));
  // A .txt corpus names item i by its line number; the items are trimmed, so relevance is by trimmed text.
  const idOf = new Map<string, string[]>();
  corpus.forEach((s, i) => idOf.set(s.trim(), [...(idOf.get(s.trim()) ?? []), String(i)]));
  return { set: { name: "STS-B retrieval", queries: kept.map((p) => p[0]), relevant: kept.map((p) => idOf.get(p[1].trim()) ?? []) }, corpus };
}

/**
 * Known items that lean on rare words: headlines of ≥ 5 words with at least
 * one word whose term is in ≤ rareDf headlines, drawn with a fixed seed; the
 * query keeps every rare word and every other one of the rest (the 1st, 3rd,
 * … non-rare words), so about half the headline is gone but its names and
 * numbers stay. Relevant: every item with the headline's text.
 */
export function knownItems(texts: string[], ids: string[], count: number, rareDf = HYBRID_DEFAULTS.rareDf, seed = HYBRID_DEFAULTS.seed): QuerySet {
  const df = new Map<string, number>();
  for (const t of texts) for (const term of new Set(tokenize(t))) df.set(term, (df.get(term) ?? 0) + 1);
  const rare = (word: string) => tokenize(word).some((t) => (df.get(t) ?? 0) <= rareDf);
  const random = rng(seed);
  const byText = new Map<string, string[]>();
  texts.forEach((t, i) => byText.set(t, [...(byText.get(t) ?? []), ids[i]]));
  const picked = new Set<number>();
  const queries: string[] = [];
  const relevant: string[][] = [];
  for (let tries = 0; queries.length < count && tries < 200 * count; tries++) {
    const i = Math.floor(random() * texts.length);
    if (picked.has(i)) continue;
    const words = texts[i].split(/\s+/).filter(Boolean);
    if (words.length < 5 || !words.some(rare)) continue;
    picked.add(i);
    let other = 0;
    queries.push(words.filter((w) => rare(w) || other++ % 2 === 0).join(" "));
    relevant.push(byText.get(texts[i])!);
  }
  return { name: "50k headlines, rare-word known items", queries, relevant };
}

/** Every item scored by BM25 with the index's tokenizer and parameters: the reference the lexical mode is held to. */
function exhaustiveBm25(texts: string[], ids: string[], queries: string[], k: number): string[][] {
  const docs = texts.map((t) => tokenize(t));
  const n = docs.length;
  const avgdl = docs.reduce((s, d) => s + d.length, 0) / Math.max(1, n);
  const df = new Map<string, number>();
  for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
  const counts = docs.map(termCounts);
  return queries.map((q) => {
    const terms = [...new Set(tokenize(q))].filter((t) => df.has(t));
    const top = new TopK(k);
    if (terms.length === 0) return [];
    counts.forEach((c, i) => {
      let s = 0;
      for (const t of terms) s += termScore(DEFAULT_BM25, idf(n, df.get(t)!), c.get(t) ?? 0, docs[i].length, avgdl);
      if (s > 0) top.push(i, s);
    });
    return top.entries().map((e) => ids[e.id]);
  });
}

function exactDense(c: Corpus, vectors: Float32Array[], k: number): string[][] {
  return vectors.map((q) => {
    const top = new TopK(k);
    for (let i = 0; i < c.n; i++) {
      const s = dot(q, c.vectors, i * c.dim, c.dim);
      if (s > top.threshold) top.push(i, s);
    }
    return top.entries().map((e) => c.ids[e.id]);
  });
}

function quality(got: string[][], relevant: string[][]): { mrrAt10: number; recallAt1: number; recallAt10: number } {
  const rank = got.map((ids, i) => {
    const r = ids.slice(0, 10).findIndex((id) => relevant[i].includes(id));
    return r < 0 ? Infinity : r + 1;
  });
  return { mrrAt10: mean(rank.map((r) => (r <= 10 ? 1 / r : 0))), recallAt1: mean(rank.map((r) => (r <= 1 ? 1 : 0))), recallAt10: mean(rank.map((r) => (r <= 10 ? 1 : 0))) };
}

async function runModes(h: IndexHandle, set: QuerySet, vectors: Float32Array[], o: Omit<ModeOptions, "k">): Promise<{ got: string[][]; bytes: number; rounds: number }> {
  const got: string[][] = [];
  const bytes: number[] = [];
  const rounds: number[] = [];
  for (let i = 0; i < set.queries.length; i++) {
    const r = await searchMode(h, { text: set.queries[i], vector: vectors[i] }, { k: 10, ...o });
    got.push(r.results.map((x) => x.id));
    bytes.push(r.stats.bytes);
    rounds.push(r.stats.roundTrips);
  }
  return { got, bytes: mean(bytes), rounds: mean(rounds) };
}

async function measureSet(set: QuerySet, corpusFile: string, o: { threads?: number; weights: number[]; log: (s: string) => void }): Promise<SetReport & { rule: string }> {
  o.log(`${set.name}: building ${corpusFile} (cached)`);
  const build = await cachedBuild(corpusFile, { threads: o.threads }, { quiet: true });
  const corpus = await loadCorpus(build.dir, build.manifest.dim);
  const h = await openIndex(build.manifest, await MemorySource.fromDir(build.dir, build.manifest), null);
  o.log(`${set.name}: embedding ${set.queries.length} queries`);
  const vectors = await embedQueries(set.queries);
  const rows: MethodRow[] = [];
  const add = (method: string, got: string[][], bytes: number | null, rounds: number | null) => rows.push({ method, ...quality(got, set.relevant), bytes, rounds });
  for (const [method, opts] of [
    ["semantic", { mode: "semantic" }],
    ["lexical", { mode: "lexical" }],
    [`hybrid (${DEFAULT_FUSION} fusion, w ${DEFAULT_SEMANTIC_WEIGHT})`, { mode: "hybrid" }],
    ["hybrid, fusion=rrf", { mode: "hybrid", fusion: "rrf" }],
    ["lexical, whole lists", { mode: "lexical", wholeLists: true }],
  ] as const) {
    const r = await runModes(h, set, vectors, opts);
    add(method, r.got, r.bytes, r.rounds);
  }
  add("exhaustive BM25 (every item)", exhaustiveBm25(corpus.texts, corpus.ids, set.queries, 10), null, null);
  add("exact dense (float32, every item)", exactDense(corpus, vectors, 10), null, null);
  const sweep: SetReport["sweep"] = [];
  for (const w of o.weights) sweep.push({ weight: w, ...quality((await runModes(h, set, vectors, { mode: "hybrid", semanticWeight: w })).got, set.relevant) });
  const bounded = await runModes(h, set, vectors, { mode: "lexical" });
  const whole = await runModes(h, set, vectors, { mode: "lexical", wholeLists: true });
  const overlap = whole.got.map((w, i) => (w.length ? w.filter((id) => bounded.got[i].includes(id)).length / w.length : 1));
  return {
    name: set.name,
    corpus: { file: path.basename(corpusFile), items: corpus.n, version: build.manifest.version },
    queries: set.queries.length,
    rule: "",
    rows,
    sweep,
    prefixRecallAt10: mean(overlap),
  };
}

export async function runHybridBench(o: { headlines: string; stsb: string; knownItems?: number; threads?: number; log: (s: string) => void }): Promise<HybridReport> {
  const meta = startRun();
  const dir = path.join(BENCH_CACHE, "hybrid");
  await mkdir(dir, { recursive: true });
  const sts = await stsbSet(o.stsb);
  const stsCorpus = path.join(dir, "stsb-corpus.txt");
  await writeFile(stsCorpus, sts.corpus.map((s) => s.replace(/[\r\n]+/g, " ")).join("\n") + "\n");
  const weights = HYBRID_DEFAULTS.weights;
  const stsReport = await measureSet(sts.set, stsCorpus, { threads: o.threads, weights, log: o.log });
  stsReport.rule = "STS-B test pairs scored ≥ 4.0 whose sentences differ; query = sentence 1, relevant = sentence 2; pairs whose sentence 2 is a query dropped; corpus = every distinct sentence that is not a query";
  const headBuild = await cachedBuild(o.headlines, { threads: o.threads }, { quiet: true });
  const head = await loadCorpus(headBuild.dir, headBuild.manifest.dim);
  const known = knownItems(head.texts, head.ids, o.knownItems ?? HYBRID_DEFAULTS.knownItems);
  const knownReport = await measureSet(known, o.headlines, { threads: o.threads, weights, log: o.log });
  knownReport.rule = `headlines of ≥ 5 words with a word whose term is in ≤ ${HYBRID_DEFAULTS.rareDf} headlines (seed ${HYBRID_DEFAULTS.seed}); query = the rare words and every other one of the rest; relevant = the items with the headline's text`;
  const incremental = await measureIncremental(o.headlines, headBuild.dir, dir, { threads: o.threads, log: o.log });
  return { meta: finishRun(meta), defaults: { mode: DEFAULT_MODE, fusion: DEFAULT_FUSION, semanticWeight: DEFAULT_SEMANTIC_WEIGHT }, sets: [stsReport, knownReport], incremental };
}

export function hybridMarkdown(r: HybridReport): string {
  const f = (x: number) => x.toFixed(3);
  const lines = [`# Hybrid search: quality of the modes`, "", `Defaults: mode ${r.defaults.mode}, fusion ${r.defaults.fusion}, semantic weight ${r.defaults.semanticWeight}. Command: \`npm run bench -- --hybrid\`.`, ""];
  for (const s of r.sets) {
    lines.push(`## ${s.name}`, "", `${s.queries} queries over ${s.corpus.items} items (${s.corpus.file}, index ${s.corpus.version}). ${s.rule}.`, "");
    lines.push("| method | MRR@10 | recall@1 | recall@10 | KB/query | KV rounds |", "|---|---|---|---|---|---|");
    for (const row of s.rows) lines.push(`| ${row.method} | ${f(row.mrrAt10)} | ${f(row.recallAt1)} | ${f(row.recallAt10)} | ${row.bytes === null ? "–" : (row.bytes / 1024).toFixed(1)} | ${row.rounds === null ? "–" : row.rounds.toFixed(2)} |`);
    lines.push("", `Lexical mode's bounded prefix finds ${f(s.prefixRecallAt10)} of the whole lists' top-10 (recall@10).`, "", "Score fusion by semantic weight:", "", "| weight | MRR@10 | recall@1 | recall@10 |", "|---|---|---|---|");
    for (const w of s.sweep) lines.push(`| ${w.weight} | ${f(w.mrrAt10)} | ${f(w.recallAt1)} | ${f(w.recallAt10)} |`);
    lines.push("");
  }
  if (r.incremental) lines.push(...incrementalMarkdown(r.incremental));
  return lines.join("\n");
}
