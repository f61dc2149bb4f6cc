// `npm run bench -- --build-time`: how long a newcomer waits for a small
// corpus. The first N items of --corpus are built twice with `npm run build`'s
// own command in a child process: the first run fills the embedding cache (the
// corpus and the self-check's query proxies), the timed runs then build from
// cache, as a rebuild does. Each timed run's wall clock covers the whole
// command, process start-up included; the build's own report gives the seconds
// per stage, peak RSS and the self-check's recall.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readCorpus, type CorpusItem } from "../builder/corpus/read-corpus.ts";
import type { BuildReport } from "../builder/build.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import { readManifest } from "../artifacts/dir.ts";
import { finishRun, startRun, type RunMeta } from "../common/run-meta.ts";
import { repeated, type Repeated } from "./stats.ts";

const run = promisify(execFile);

export const BUILD_TIME_DEFAULTS = {
  items: 10_000,
  repeats: 3,
  /** The wall-clock target for a build of `items` from cache, in seconds. */
  targetSeconds: 20,
};

export interface BuildTimeRun {
  wallSeconds: number;
  stages: Record<string, number>;
  peakRssBytes: number;
}

export interface BuildTimeReport {
  meta: RunMeta & { command: string; corpus: string; items: number; repeats: number };
  /** The cache-filling first run (it embeds what the cache lacks). */
  first: BuildTimeRun & { embedded: number };
  runs: BuildTimeRun[];
  wallSeconds: Repeated;
  selfCheck: Pick<BuildReport["selfCheck"], "recallAt10" | "byKind" | "meanBytes" | "roundTrips"> & { nprobe: number };
  target: { seconds: number; pass: boolean };
}

export interface BuildTimeOptions {
  corpus: string;
  items?: number;
  repeats?: number;
  log?: (s: string) => void;
}

export async function runBuildTimeBench(o: BuildTimeOptions): Promise<BuildTimeReport> {
  const log = o.log ?? (() => {});
  const items = o.items ?? BUILD_TIME_DEFAULTS.items;
  const repeats = o.repeats ?? BUILD_TIME_DEFAULTS.repeats;
  const meta = startRun();
  const dir = await mkdtemp(path.join(os.tmpdir(), "build-time-"));
  try {
    const slice = path.join(dir, "corpus.jsonl");
    const n = await writeSlice(o.corpus, items, slice);
    log(`${n} items of ${o.corpus}; a cache-filling run, then ${repeats} timed runs`);
    const first = await timedBuild(slice, path.join(dir, "out"));
    const runs: BuildTimeRun[] = [];
    let last = first.report;
    for (let r = 0; r < repeats; r++) {
      const run = await timedBuild(slice, path.join(dir, "out"));
      if (run.report.embeddings.computed !== 0) throw new Error(`timed run ${r + 1} embedded ${run.report.embeddings.computed} texts: the cache did not hold them`);
      runs.push(run.run);
      last = run.report;
      log(`run ${r + 1}: ${run.run.wallSeconds.toFixed(2)} s`);
    }
    const wall = repeated(runs.map((r) => r.wallSeconds));
    const c = last.selfCheck;
    const { nprobe } = (await readManifest(path.join(dir, "out"))).params;
    return {
      meta: { ...finishRun(meta), command: `npm run bench -- --build-time --corpus ${path.basename(o.corpus)} --items ${items} --repeats ${repeats}`, corpus: path.basename(o.corpus), items: n, repeats },
      first: { ...first.run, embedded: first.report.embeddings.computed },
      runs,
      wallSeconds: wall,
      selfCheck: { recallAt10: c.recallAt10, byKind: c.byKind, meanBytes: c.meanBytes, roundTrips: c.roundTrips, nprobe },
      target: { seconds: BUILD_TIME_DEFAULTS.targetSeconds, pass: wall.median <= BUILD_TIME_DEFAULTS.targetSeconds },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The corpus's first `items` items as JSONL (ids and metadata kept), so any input format slices alike. */
async function writeSlice(corpus: string, items: number, out: string): Promise<number> {
  const lines: string[] = [];
  for await (const it of readCorpus(corpus, {}, { skippedBlank: [] } as never) as AsyncIterable<CorpusItem>) {
    if (lines.length === items) break;
    lines.push(JSON.stringify({ ...it.meta, id: it.id, text: it.text }));
  }
  await writeFile(out, lines.join("\n") + "\n");
  return lines.length;
}

/** One `npm run build` in a child process (the command a user runs, minus npm's own start-up). */
async function timedBuild(corpus: string, out: string): Promise<{ run: BuildTimeRun; report: BuildReport }> {
  const t0 = performance.now();
  const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "scripts", "build.ts"), "--corpus", corpus, "--out", out, "--json"], { cwd: PROJECT_ROOT, maxBuffer: 64 * 2 ** 20 });
  const wallSeconds = (performance.now() - t0) / 1000;
  const report = JSON.parse(stdout) as BuildReport;
  return { run: { wallSeconds: +wallSeconds.toFixed(2), stages: report.seconds, peakRssBytes: report.peakRssBytes }, report };
}

export function buildTimeMarkdown(r: BuildTimeReport): string {
  const stageNames = Object.keys(r.runs[0]?.stages ?? {}).filter((s) => !s.includes("."));
  const stage = (s: string) => repeated(r.runs.map((x) => x.stages[s] ?? 0)).median.toFixed(2);
  const kinds = Object.entries(r.selfCheck.byKind ?? {})
    .map(([k, v]) => `${k} ${v.recallAt10.toFixed(3)}`)
    .join(", ");
  return `# A small build: ${r.meta.items.toLocaleString("en-US")} items from cached embeddings

\`${r.meta.command}\` builds the first ${r.meta.items.toLocaleString("en-US")} items of the corpus with \`npm run build\`'s command in a child process: one run fills the embedding cache, then ${r.meta.repeats} timed runs build from it. Wall time covers the whole command, process start-up included.

| | value | target |
| --- | --- | --- |
| wall time, median (min–max) | ${r.wallSeconds.median.toFixed(1)} s (${r.wallSeconds.min.toFixed(1)}–${r.wallSeconds.max.toFixed(1)}) | ≤ ${r.target.seconds} s ${r.target.pass ? "✓" : "✗"} |
| peak RSS | ${(Math.max(...r.runs.map((x) => x.peakRssBytes)) / 2 ** 20).toFixed(0)} MiB | |
| self-check recall@10 | ${r.selfCheck.recallAt10.toFixed(3)} (${kinds}) at nprobe ${r.selfCheck.nprobe}, ${(r.selfCheck.meanBytes / 1024).toFixed(0)} KB a query, ${r.selfCheck.roundTrips} rounds | |
| first run (filling the cache) | ${r.first.wallSeconds.toFixed(1)} s, ${r.first.embedded} corpus texts embedded | |

Seconds per stage (median of the timed runs, the build's own clock):

| ${stageNames.join(" | ")} |
| ${stageNames.map(() => "---").join(" | ")} |
| ${stageNames.map(stage).join(" | ")} |

Run: ${r.meta.date}, commit ${r.meta.commit.slice(0, 12)}${r.meta.dirty ? " (with uncommitted changes)" : ""}, ${r.meta.machine.cpus} × ${r.meta.machine.model}, load ${r.meta.load.start}–${r.meta.load.end ?? "?"}.
`;
}
