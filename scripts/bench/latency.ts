// The warm-latency figures of the Worker through HTTP, and issue 8's two targets
// on them: /search ÷ /embed of one text end to end (same runs, same client) and
// the search's own compute. The full bench (run.ts) reports them beside
// everything else; `npm run bench -- --latency` measures only them, on the
// cached build of --corpus or on a prebuilt --artifacts DIR, in a minute or two.
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { readManifest } from "../artifacts/dir.ts";
import type { Bundle } from "../local/harness.ts";
import { BENCH_CACHE, cachedBuild } from "./build-cache.ts";
import { loadQueries } from "./queries.ts";
import { repeated, repeatedDist, type Dist, type Repeated } from "./stats.ts";
import { loadCorpus } from "./truth.ts";
import { measureThroughHttp, type WorkerMeasurements } from "./http-client.ts";
import { PROJECT_ROOT } from "../common/paths.ts";

/** Issue 8's latency targets on the 50k index. */
export const E2E_OVER_EMBED_TARGET = 1.5;
export const COMPUTE_P50_TARGET_MS = 5;

type Repeats = Record<keyof Dist, Repeated>;

export interface LatencyFigures {
  e2e: Repeats;
  embed: Repeats;
  search: Repeats;
  /** The search's CPU (search less its KV waits) and its KV waits, as the Worker timed them. */
  compute: Repeats;
  kv: Repeats;
  /** What the timed searches read from KV: rounds and bytes (whether the isolate's caches held their values). */
  kvRounds: Repeats;
  kvBytes: Repeats;
  overhead: Repeats;
  /** `POST /embed` of each query's text, asked right after its search in the same runs. */
  embedEndpoint: { e2e: Repeats; embed: Repeats };
  /** Per run, /search p50 ÷ /embed p50, end to end; and the same with the search's KV waits taken out. */
  e2eOverEmbedP50: Repeated;
  e2eLessKvOverEmbedP50: Repeated;
}

export interface Target {
  target: number;
  value: number;
  pass: boolean;
}

export interface LatencyTargets {
  /** Warm /search p50 ≤ 1.5 × /embed p50 of one text, end to end, in the same run (median of the runs' ratios). */
  e2eOverEmbed: Target;
  /** Search compute p50 (KV waits excluded) ≤ 5 ms (median of the runs). */
  computeP50Ms: Target;
}

export function latencyFigures(runs: WorkerMeasurements["latencyRuns"]): LatencyFigures {
  const over = (f: (r: (typeof runs)[number]) => Dist) => repeatedDist(runs.map(f));
  return {
    e2e: over((r) => r.e2e),
    embed: over((r) => r.embed),
    search: over((r) => r.search),
    compute: over((r) => r.compute),
    kv: over((r) => r.kv),
    kvRounds: over((r) => r.kvRounds),
    kvBytes: over((r) => r.kvBytes),
    overhead: over((r) => r.overhead),
    embedEndpoint: { e2e: over((r) => r.embedEndpoint.e2e), embed: over((r) => r.embedEndpoint.embed) },
    e2eOverEmbedP50: repeated(runs.map((r) => r.e2e.p50 / r.embedEndpoint.e2e.p50)),
    e2eLessKvOverEmbedP50: repeated(runs.map((r) => r.e2eLessKv.p50 / r.embedEndpoint.e2e.p50)),
  };
}

function atMost(target: number, value: number): Target {
  return { target, value, pass: value <= target };
}

export function latencyTargets(L: LatencyFigures): LatencyTargets {
  return { e2eOverEmbed: atMost(E2E_OVER_EMBED_TARGET, L.e2eOverEmbedP50.median), computeP50Ms: atMost(COMPUTE_P50_TARGET_MS, L.compute.p50.median) };
}

/** The machine's 1-minute load average: timings taken on a shared machine say how busy it was. */
export function loadAverage(): number {
  return os.loadavg()[0];
}

export interface LatencyOptions {
  corpus: string;
  /** A built index to measure instead of the cached build of `corpus`. */
  artifacts?: string;
  perturbed?: number;
  repeats?: number;
  threads?: number;
  /** The Worker's RESIDENT_KIB (0: every record from KV); default wrangler.toml's. */
  residentKib?: number;
  bundle?: Bundle;
  log?: (s: string) => void;
}

export interface LatencyReport {
  meta: { date: string; commit: string; cpu: string; cores: number; index: string; items: number; queries: number; repeats: number; load: { start: number; end: number }; seconds: number };
  latency: LatencyFigures;
  targets: LatencyTargets;
  memory: WorkerMeasurements["memory"];
  cold: WorkerMeasurements["cold"];
  /** Absent in reports from before resident records. */
  resident?: WorkerMeasurements["resident"];
  /** One pass in hybrid mode; absent in older reports, null without a lexicon. */
  hybrid?: WorkerMeasurements["hybrid"];
}

const LATENCY_DEFAULTS = { perturbed: 200, repeats: 3, k: 10 };

export async function runLatencyBench(o: LatencyOptions): Promise<LatencyReport> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const loadStart = loadAverage();
  const dir = o.artifacts ?? (await cachedBuild(o.corpus, { threads: o.threads }, { cacheRoot: BENCH_CACHE, quiet: false })).dir;
  const manifest = await readManifest(dir);
  const corpus = await loadCorpus(dir, manifest.dim);
  const queries = await loadQueries({ corpusTexts: corpus.texts, perturbed: o.perturbed ?? LATENCY_DEFAULTS.perturbed });
  const repeats = o.repeats ?? LATENCY_DEFAULTS.repeats;
  log(`${queries.length} queries on ${dir} (${corpus.n} items), load ${loadStart.toFixed(2)}`);
  const http = await measureThroughHttp({ dir, queries: queries.map((q) => q.text), k: LATENCY_DEFAULTS.k, repeats, clients: [], exactQueries: 0, bundle: o.bundle, residentKib: o.residentKib, log });
  const latency = latencyFigures(http.latencyRuns);
  return {
    meta: {
      date: new Date().toISOString(),
      commit: gitCommit(),
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      index: path.basename(path.resolve(dir)),
      items: corpus.n,
      queries: queries.length,
      repeats,
      load: { start: loadStart, end: loadAverage() },
      seconds: (performance.now() - t0) / 1000,
    },
    latency,
    targets: latencyTargets(latency),
    memory: http.memory,
    cold: http.cold,
    resident: http.resident,
    hybrid: http.hybrid,
  };
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: PROJECT_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}
