// Issue 24's amplification targets, checked in Node with the real vocabulary:
// the tokenizer CPU of every hostile input (scripts/reliability/hostile-inputs.ts)
// through the old path (the package's tokenizer, which sliced at every position,
// three times per text) and the new one (NFKC-first character limit, then
// lib/model/tokenizer.ts once per text with an early stop at the token cap),
// alone and as 16-query batches. With --embed also the CPU of embedding the
// largest legal request of hostile text (tfjs-wasm, as the Worker runs it).
// Tokenizer CPU is deterministic enough to measure this way; the figures are
// process CPU time (user + system), medians of --reps runs.
//
//   npx tsx scripts/bench/hostile-cost.ts [--reps 5] [--embed] [--out docs/hostile-cost]   (writes .json and .md)
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { prepareModel } from "../builder/embedding/node-model.ts";
import { tokenizeWithin, UseTokenizer } from "../../lib/model/tokenizer.ts";
import { hostileTexts, MAX_QUERY_CHARS } from "../reliability/hostile-inputs.ts";
import { finishRun, startRun } from "../common/run-meta.ts";
import { hostileCostMarkdown, type HostileCostReport, type HostileCostRow } from "./hostile-cost-report.ts";

const MAX_REQUEST_TOKENS = 4096;
const BATCH = 16;

type Encoder = { encode(text: string): number[] };

/** Median CPU milliseconds of `fn` over `reps` runs. */
function cpuMs(reps: number, fn: () => unknown): number {
  const runs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    runs.push((d.user + d.system) / 1000);
  }
  runs.sort((a, b) => a - b);
  return Math.round(runs[runs.length >> 1] * 100) / 100;
}

/** The old request path: characters counted before NFKC; every text tokenized in full to count, then twice more to embed. */
function oldPath(pkg: Encoder, texts: string[]): { status: string } {
  for (const t of texts) if ([...t].length > MAX_QUERY_CHARS) return { status: "400 query_too_long" };
  const tokens = texts.reduce((n, t) => n + pkg.encode(t).length, 0);
  if (tokens > MAX_REQUEST_TOKENS) return { status: "400 too_many_tokens" };
  for (const t of texts) pkg.encode(t);
  for (const t of texts) pkg.encode(t);
  return { status: "200" };
}

/** The new one: characters counted after NFKC, then each text encoded once, stopping at the cap. */
function newPath(mine: UseTokenizer, texts: string[]): { status: string } {
  for (const t of texts) {
    let chars = 0;
    for (const _ of t.normalize("NFKC")) if (++chars > MAX_QUERY_CHARS) return { status: "400 query_too_long" };
  }
  return { status: tokenizeWithin(mine, texts, MAX_REQUEST_TOKENS).ok ? "200" : "400 too_many_tokens" };
}

async function main() {
  const { values } = parseArgs({ options: { reps: { type: "string", default: "5" }, embed: { type: "boolean", default: false }, out: { type: "string" } } });
  const reps = Number(values.reps);
  const run = startRun();
  const { vocabulary } = await prepareModel();
  const Package = (createRequire(import.meta.url)("@tensorflow-models/universal-sentence-encoder") as { Tokenizer: new (v: unknown) => Encoder }).Tokenizer;
  const pkg = new Package(vocabulary);
  const mine = new UseTokenizer(vocabulary);
  const { refused, legal } = hostileTexts();
  const rows: HostileCostRow[] = [];
  for (const h of [...refused, ...legal]) {
    const single = [h.text];
    const batch = Array(BATCH).fill(h.text) as string[];
    const tokens = mine.encode(h.text).length;
    // The old path's batch of the worst texts takes seconds: fewer runs.
    const oldReps = tokens > 2000 ? 1 : reps;
    const row = {
      input: h.name,
      nfkcChars: [...h.text.normalize("NFKC")].length,
      tokens,
      old: { single: { status: oldPath(pkg, single).status, cpuMs: cpuMs(oldReps, () => oldPath(pkg, single)) }, batch16: { status: oldPath(pkg, batch).status, cpuMs: cpuMs(oldReps, () => oldPath(pkg, batch)) } },
      new: { single: { status: newPath(mine, single).status, cpuMs: cpuMs(reps, () => newPath(mine, single)) }, batch16: { status: newPath(mine, batch).status, cpuMs: cpuMs(reps, () => newPath(mine, batch)) } },
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  const worst = {
    singleCpuMs: Math.max(...rows.map((r) => r.new.single.cpuMs)),
    batch16CpuMs: Math.max(...rows.map((r) => r.new.batch16.cpuMs)),
  };
  let embed: HostileCostReport["embed"];
  if (values.embed) embed = await embedWorst(mine, legal.map((h) => h.text));
  const report: HostileCostReport = {
    ...finishRun(run),
    what: "tokenizer CPU per request, Node, real vocabulary; medians of process CPU time",
    reps,
    limits: { maxQueryChars: MAX_QUERY_CHARS, maxRequestTokens: MAX_REQUEST_TOKENS, batch: BATCH },
    targets: { singleCpuMs: 100, batch16CpuMs: 1000 },
    worst,
    met: worst.singleCpuMs <= 100 && worst.batch16CpuMs <= 1000,
    rows,
    ...(embed ? { embed } : {}),
  };
  console.log(`worst legal request, tokenizer CPU: single ${worst.singleCpuMs} ms, 16-query batch ${worst.batch16CpuMs} ms`);
  if (values.out) {
    const base = path.resolve(values.out.replace(/\.json$/, ""));
    writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + "\n");
    writeFileSync(`${base}.md`, hostileCostMarkdown(report));
    console.log(`wrote ${base}.json and .md`);
  }
}

/** CPU of embedding the largest legal request of each hostile kind: as many copies as fit 4,096 tokens. */
async function embedWorst(mine: UseTokenizer, texts: string[]) {
  const { createNodeEmbedder } = await import("../builder/embedding/node-model.ts");
  const embedder = await createNodeEmbedder();
  await embedder.embed(["warm up"]);
  const out: Array<{ texts: number; tokens: number; cpuMs: number }> = [];
  for (const t of texts) {
    const n = Math.min(32, Math.floor(MAX_REQUEST_TOKENS / mine.encode(t).length));
    const batch = Array(n).fill(t) as string[];
    const t0 = process.cpuUsage();
    await embedder.embed(batch);
    const d = process.cpuUsage(t0);
    out.push({ texts: n, tokens: n * mine.encode(t).length, cpuMs: Math.round((d.user + d.system) / 1000) });
    console.log(JSON.stringify(out[out.length - 1]));
  }
  return { what: "CPU of one embed call of the largest legal request (Node tfjs-wasm; the Worker runs it in 64-token calls)", runs: out };
}

await main();
