// The project benchmarked through HTTP: the bundled Worker in workerd (Miniflare)
// with a local KV store in a temp dir, the artifacts published into it, and a
// Node client over loopback. Every figure a response carries (results, stats,
// timings) is collected per query; latency and throughput passes are repeated.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startLocalWorker, testWorkerBundle, type Bundle, type LocalWorker } from "../local/harness.ts";
import { publishToLocalKv } from "../local/bulk-load.ts";
import { dist, type Dist } from "./stats.ts";
import type { SearchStats } from "../../lib/index/reader.ts";
import type { SearchResponse, WireSearchStats } from "../../functions/wire.ts";
import { EXACT_SEARCH_PATH } from "../../functions/exact-search.ts";

/** A /v1/search answer's `stats`, read back into the reader's terms (kvMs: time waiting for KV; search_ms minus it is compute). */
export type WireStats = SearchStats;

export function readStats(s: WireSearchStats): WireStats {
  return {
    shards: s.shards,
    records: s.records,
    resident: s.resident_records,
    bytes: s.bytes,
    fetchedBytes: s.fetched_bytes,
    roundTrips: s.round_trips,
    kvMs: s.kv_ms,
    ...(s.filter ? { filter: s.filter } : {}),
  };
}

export interface WireAnswer {
  ids: string[];
  stats: WireStats;
  embedMs: number;
  searchMs: number;
  /** Search CPU in the Worker: search_ms less the KV waits (the Worker's timings.compute_ms). */
  computeMs: number;
  serverTotalMs: number;
  e2eMs: number;
}

/** One `POST /v1/embed` of one text: end to end, and the embedding as the Worker timed it (Server-Timing). */
export interface EmbedAnswer {
  e2eMs: number;
  embedMs: number;
}

export interface LatencyRun {
  e2e: Dist;
  /** End to end less the search's KV waits: the request as it would be with KV answering at once. */
  e2eLessKv: Dist;
  embed: Dist;
  search: Dist;
  compute: Dist;
  /** The search's waits on KV (stats.kvMs), and what it read there: sequential rounds, bytes. */
  kv: Dist;
  kvRounds: Dist;
  kvBytes: Dist;
  /** End to end minus the Worker's own total: HTTP, JSON, routing. */
  overhead: Dist;
  /** `POST /v1/embed` of the same query text, asked right after each search: end to end, and the Worker's embed timing. */
  embedEndpoint: { e2e: Dist; embed: Dist };
}

/** One pass of the queries in hybrid mode (the default mode): what the lexicon adds to a search's compute, KV bytes and rounds. */
export interface HybridRun {
  e2e: Dist;
  search: Dist;
  compute: Dist;
  kvRounds: Dist;
  kvBytes: Dist;
}

export interface WorkerMeasurements {
  publishSeconds: number;
  /** Null when the index has no lexicon. */
  hybrid: HybridRun | null;
  cold: { e2eMs: number; serverTotalMs: number; embedMs: number; searchMs: number; modelLoadMs: number | null };
  /** The first full pass, in query order (recall and bytes come from it). */
  answers: WireAnswer[];
  latencyRuns: LatencyRun[];
  qps: Record<string, number[]>;
  /** isolateSteadyBytes = JS heap after GC + its ArrayBuffers' backing stores + wasm heap. */
  memory: { jsHeapAfterGcBytes: number; arrayBufferBytes: number; wasmHeapBytes: number; isolateSteadyBytes: number; workerdRssBytes: number };
  exact: WireAnswer[];
  /** Why the exact pass stopped early, if it did (e.g. the isolate hit its memory limit). */
  exactError: string | null;
  /** Worker log lines that look like trouble (errors, memory). */
  workerErrors: string[];
  /** /v1/healthz's `resident` once the recall pass is over and any load has ended: whether the timed passes re-ranked from memory. */
  resident: ResidentHealth;
}

export interface ResidentHealth {
  state: string;
  items?: number;
  bytes?: number;
  load_ms?: number;
  error?: string;
}

/**
 * One query. Timed passes POST it: GET answers are cached at the edge (by
 * version, query and k), so a repeated GET would time the cache, not the search.
 * In semantic mode: this bench measures the vector index against exact dense
 * search (the hybrid bench, bench/hybrid.ts, measures the modes).
 */
async function ask(w: LocalWorker, q: string, k: number, how: "semantic" | "hybrid" | "exact" = "semantic"): Promise<WireAnswer> {
  const t0 = performance.now();
  const res =
    how === "exact"
      ? await w.fetch(`${EXACT_SEARCH_PATH}?k=${k}&q=${encodeURIComponent(q)}`)
      : await w.fetch("/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ q, k, mode: how }) });
  const text = await res.text();
  const e2eMs = performance.now() - t0;
  if (res.status !== 200) throw new Error(`/v1/search answered ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as SearchResponse;
  return {
    ids: body.results.map((r) => r.id),
    stats: readStats(body.stats),
    embedMs: body.timings.embed_ms,
    searchMs: body.timings.search_ms,
    computeMs: body.timings.compute_ms,
    serverTotalMs: body.timings.total_ms,
    e2eMs,
  };
}

/** `POST /v1/embed` of one text, as a client of the API would ask it. */
async function askEmbed(w: LocalWorker, q: string): Promise<EmbedAnswer> {
  const t0 = performance.now();
  const res = await w.fetch("/v1/embed", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ texts: [q] }) });
  const text = await res.text();
  const e2eMs = performance.now() - t0;
  if (res.status !== 200) throw new Error(`/v1/embed answered ${res.status}: ${text.slice(0, 300)}`);
  const embed = /(?:^|,\s*)embed;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
  return { e2eMs, embedMs: embed ? Number(embed[1]) : NaN };
}

function latencyRun(answers: WireAnswer[], embeds: EmbedAnswer[]): LatencyRun {
  return {
    e2e: dist(answers.map((a) => a.e2eMs)),
    e2eLessKv: dist(answers.map((a) => a.e2eMs - a.stats.kvMs)),
    embed: dist(answers.map((a) => a.embedMs)),
    search: dist(answers.map((a) => a.searchMs)),
    compute: dist(answers.map((a) => a.computeMs)),
    kv: dist(answers.map((a) => a.stats.kvMs)),
    kvRounds: dist(answers.map((a) => a.stats.roundTrips)),
    kvBytes: dist(answers.map((a) => a.stats.fetchedBytes)),
    overhead: dist(answers.map((a) => a.e2eMs - a.serverTotalMs)),
    embedEndpoint: { e2e: dist(embeds.map((e) => e.e2eMs)), embed: dist(embeds.map((e) => e.embedMs)) },
  };
}

/** /v1/embed requests before the timed runs: the route's first calls are slower (JIT). */
const EMBED_WARMUP = 20;

async function throughput(w: LocalWorker, queries: string[], k: number, clients: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const i = next++;
        if (i >= queries.length) return;
        await ask(w, queries[i], k);
      }
    }),
  );
  return queries.length / ((performance.now() - t0) / 1000);
}

export interface WorkerBenchOptions {
  dir: string;
  queries: string[];
  k: number;
  repeats: number;
  clients: number[];
  exactQueries: number;
  /** The bundle to run; by default the test entry's (functions/test-entry.ts: the deployed routes plus the exact search the exact pass needs). */
  bundle?: Bundle;
  log?: (s: string) => void;
  /** A local KV store to publish into and keep (values already there are not sent again); default a temp dir, removed after. */
  persistDir?: string;
  /** The Worker's RESIDENT_KIB; 0 measures the index with every record read from KV. Default: wrangler.toml's. */
  residentKib?: number;
}

/** How long the timed passes wait for a resident copy still loading after the recall pass. */
const RESIDENT_WAIT_MS = 120_000;
const RESIDENT_POLL_MS = 250;

async function residentHealth(w: LocalWorker): Promise<ResidentHealth> {
  const body = (await (await w.fetch("/v1/healthz")).json()) as { resident?: ResidentHealth };
  return body.resident ?? { state: "none" };
}

/** /healthz's resident status once it is no longer loading (or the wait is over). */
async function settledResident(w: LocalWorker): Promise<ResidentHealth> {
  const t0 = performance.now();
  for (;;) {
    const r = await residentHealth(w);
    if (r.state !== "loading" || performance.now() - t0 > RESIDENT_WAIT_MS) return r;
    await new Promise((resolve) => setTimeout(resolve, RESIDENT_POLL_MS));
  }
}

/** The cold first query, then every query once (the recall pass), then the resident copy settled. */
async function coldAndRecall(w: LocalWorker, o: WorkerBenchOptions, log: (s: string) => void) {
  const first = await ask(w, o.queries[0], o.k);
  const health = (await (await w.fetch("/v1/healthz")).json()) as { model_load_ms?: number };
  const cold = { e2eMs: first.e2eMs, serverTotalMs: first.serverTotalMs, embedMs: first.embedMs, searchMs: first.searchMs, modelLoadMs: health.model_load_ms ?? null };
  log(`cold first query ${cold.e2eMs.toFixed(0)} ms (model load ${cold.modelLoadMs} ms)`);
  const answers: WireAnswer[] = [];
  for (const q of o.queries) answers.push(await ask(w, q, o.k));
  log(`recall pass: ${answers.length} queries`);
  const resident = await settledResident(w);
  log(`resident records: ${resident.state}${resident.load_ms !== undefined ? ` (loaded in ${resident.load_ms} ms, ${((resident.bytes ?? 0) / 2 ** 20).toFixed(1)} MiB)` : ""}${resident.error ? `: ${resident.error}` : ""}`);
  return { cold, answers, resident };
}

/**
 * The timed passes: each search is followed by /embed of the same text, so the
 * two are timed under the same conditions and their ratio holds within one run.
 */
async function latencyPasses(w: LocalWorker, o: WorkerBenchOptions, log: (s: string) => void): Promise<LatencyRun[]> {
  for (const q of o.queries.slice(0, EMBED_WARMUP)) await askEmbed(w, q);
  const latencyRuns: LatencyRun[] = [];
  for (let r = 0; r < o.repeats; r++) {
    const run: WireAnswer[] = [];
    const embeds: EmbedAnswer[] = [];
    for (const q of o.queries) {
      run.push(await ask(w, q, o.k));
      embeds.push(await askEmbed(w, q));
    }
    const L = latencyRun(run, embeds);
    latencyRuns.push(L);
    log(`latency run ${r + 1}/${o.repeats}: /search p50 ${L.e2e.p50.toFixed(1)} ms, /embed p50 ${L.embedEndpoint.e2e.p50.toFixed(1)} ms (ratio ${(L.e2e.p50 / L.embedEndpoint.e2e.p50).toFixed(2)}), compute p50 ${L.compute.p50.toFixed(1)} ms, KV p50 ${L.kv.p50.toFixed(1)} ms`);
  }
  return latencyRuns;
}

/** Every query once in hybrid mode, after the semantic passes warmed the isolate; null when the index has no lexicon. */
async function hybridPass(w: LocalWorker, o: WorkerBenchOptions, log: (s: string) => void): Promise<HybridRun | null> {
  const probe = await w.fetch("/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ q: o.queries[0], k: o.k, mode: "hybrid" }) });
  const body = (await probe.json()) as { error?: { code?: string } };
  if (probe.status === 400 && body.error?.code === "mode_unavailable") return null;
  const run: WireAnswer[] = [];
  for (const q of o.queries) run.push(await ask(w, q, o.k, "hybrid"));
  const r = { e2e: dist(run.map((a) => a.e2eMs)), search: dist(run.map((a) => a.searchMs)), compute: dist(run.map((a) => a.computeMs)), kvRounds: dist(run.map((a) => a.stats.roundTrips)), kvBytes: dist(run.map((a) => a.stats.fetchedBytes)) };
  log(`hybrid pass: /search p50 ${r.e2e.p50.toFixed(1)} ms, compute p50 ${r.compute.p50.toFixed(1)} ms, rounds max ${r.kvRounds.max}`);
  return r;
}

async function throughputPasses(w: LocalWorker, o: WorkerBenchOptions, log: (s: string) => void): Promise<Record<string, number[]>> {
  const qps: Record<string, number[]> = {};
  for (const c of o.clients) {
    qps[c] = [];
    for (let r = 0; r < o.repeats; r++) qps[c].push(await throughput(w, o.queries, o.k, c));
    log(`${c} client(s): ${qps[c].map((x) => x.toFixed(1)).join(", ")} q/s`);
  }
  return qps;
}

/** The isolate after a forced GC: JS heap, ArrayBuffers (routing, shards, records) and the wasm heap. */
async function isolateMemory(w: LocalWorker): Promise<WorkerMeasurements["memory"]> {
  const healthz = (await (await w.fetch("/v1/healthz")).json()) as { memory: { wasm_heap_bytes: number } };
  const heap = await w.isolateHeap({ gc: true });
  return {
    jsHeapAfterGcBytes: heap.usedBytes,
    arrayBufferBytes: heap.arrayBufferBytes,
    wasmHeapBytes: healthz.memory.wasm_heap_bytes,
    isolateSteadyBytes: heap.usedBytes + heap.arrayBufferBytes + healthz.memory.wasm_heap_bytes,
    workerdRssBytes: w.workerdRssBytes(),
  };
}

/** Exact search in the Worker (it reads every item), for the first `exactQueries` queries; stops at the first failure. */
async function exactPass(w: LocalWorker, o: WorkerBenchOptions, log: (s: string) => void): Promise<{ exact: WireAnswer[]; exactError: string | null }> {
  const exact: WireAnswer[] = [];
  for (const q of o.queries.slice(0, o.exactQueries)) {
    try {
      exact.push(await ask(w, q, o.k, "exact"));
    } catch (e) {
      const exactError = `query ${exact.length + 1}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ""}`;
      log(`exact in the Worker stopped: ${exactError}`);
      return { exact, exactError };
    }
    log(`exact in the Worker ${exact.length}/${o.exactQueries}: ${exact[exact.length - 1].e2eMs.toFixed(0)} ms`);
  }
  return { exact, exactError: null };
}

export async function measureThroughHttp(o: WorkerBenchOptions): Promise<WorkerMeasurements> {
  const log = o.log ?? (() => {});
  const persistDir = o.persistDir ?? (await mkdtemp(path.join(os.tmpdir(), "ess-bench-kv-")));
  const workerErrors: string[] = [];
  const onLog = (line: string) => {
    if (/error|exceed|memory|uncaught|limit/i.test(line)) {
      workerErrors.push(line);
      log(`worker: ${line}`);
    }
  };
  const t = performance.now();
  await publishToLocalKv(persistDir, o.dir);
  const publishSeconds = (performance.now() - t) / 1000;
  log(`published to local KV in ${publishSeconds.toFixed(1)} s`);
  const vars: Record<string, string> = o.residentKib !== undefined ? { RESIDENT_KIB: String(o.residentKib) } : {};
  const w = await startLocalWorker({ persistDir, bundle: o.bundle ?? (await testWorkerBundle()), inspect: true, vars, onLog });
  try {
    const { cold, answers, resident } = await coldAndRecall(w, o, log);
    const latencyRuns = await latencyPasses(w, o, log);
    const hybrid = await hybridPass(w, o, log);
    const qps = await throughputPasses(w, o, log);
    const memory = await isolateMemory(w);
    const { exact, exactError } = await exactPass(w, o, log);
    return { publishSeconds, hybrid, cold, answers, latencyRuns, qps, memory, exact, exactError, workerErrors, resident };
  } finally {
    await w.dispose();
    if (!o.persistDir) await rm(persistDir, { recursive: true, force: true });
  }
}
