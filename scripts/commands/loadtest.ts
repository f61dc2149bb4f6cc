// npm run loadtest [-- --artifacts DIR] [--seconds 60] [--clients 16]
// Load, deploy under load, faults, hostile input and memory, against the Worker
// in local workerd on 127.0.0.1 (every loop bounded by a deadline or a count).
// Writes docs/reliability.md and docs/reliability.json.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { HELP_FLAG, parseIntFlag, runCli } from "../common/cli.ts";
import { readManifest } from "../artifacts/dir.ts";
import { runBuild } from "../builder/build.ts";
import { sharedWorkerBundle, startLocalWorker, wranglerRatelimits, type LocalWorker, type StartOptions } from "../local/harness.ts";
import { publishToLocalKv } from "../local/bulk-load.ts";
import { faultyKv, injectKvFault } from "../local/faulty-kv.ts";
import { artifactValues } from "../deploy/publish.ts";
import { sampleQueries } from "../builder/check/perturb.ts";
import { ArtifactSearch } from "../artifacts/node-search.ts";
import { runLoad } from "../reliability/load.ts";
import { corruptOnDisk, damageValues, restoreStore, snapshotStore } from "../reliability/store.ts";
import { runHostileProperties } from "../reliability/hostile.ts";
import { runCostProbes } from "../reliability/cost-probes.ts";
import { deployUnderLoad } from "../reliability/deploy-under-load.ts";
import { markdown } from "../reliability/report.ts";
import type { ResidentHealth } from "../bench/http-client.ts";
import { shardKey, type ItemRecord } from "../../lib/index/format.ts";
import { DEFAULT_CACHE, PROJECT_ROOT } from "../common/paths.ts";
import type { Figures, Isolate } from "../reliability/figures.ts";
import { finishRun, startRun } from "../common/run-meta.ts";

const SAMPLE_CSV = path.join(PROJECT_ROOT, "test", "fixtures", "abcnews-2003-every25.csv");
const MiB = 2 ** 20;
/** Queries the fault runs compare, answered by the healthy store first. */
const FAULT_QUERIES = 40;
/**
 * Workers' 128 MB (122 MiB) less ~10 MiB of margin, for everything the isolate
 * holds: JS heap, ArrayBuffers (the routing, cached shards and a resident copy
 * of the records live there) and the wasm heap.
 */
const MEMORY_LIMIT_MIB = 112;


function residentWords(r: ResidentHealth | undefined): string {
  if (!r || r.state === "none") return "none (the build wrote no resident copy)";
  return `${r.state}, ${(r.items ?? 0).toLocaleString("en")} records, ${((r.bytes ?? 0) / MiB).toFixed(1)} MiB${r.load_ms !== undefined ? `, loaded in ${r.load_ms} ms` : ""}${r.error ? ` (${r.error})` : ""}`;
}

type Phase = <T>(name: string, run: () => Promise<T>) => Promise<T | undefined>;

async function isolateMiB(w: LocalWorker, fetch: (p: string) => Promise<Response>): Promise<Isolate> {
  const heap = await w.isolateHeap({ gc: true });
  const wasm = ((await (await fetch("/v1/healthz")).json()) as { memory: { wasm_heap_bytes: number } }).memory.wasm_heap_bytes;
  const r = (b: number) => Math.round((b / MiB) * 10) / 10;
  return { jsHeap: r(heap.usedBytes), arrayBuffers: r(heap.arrayBufferBytes), wasm: r(wasm), total: r(heap.usedBytes + heap.arrayBufferBytes + wasm) };
}

async function texts(dir: string): Promise<string[]> {
  const s = await ArtifactSearch.open(dir);
  const out: string[] = [];
  for (let i = 0; i < s.manifest.items; i++) out.push((JSON.parse(await s.source.recordText(i)) as ItemRecord).text);
  return out;
}

async function start(persistDir: string, extra: Partial<StartOptions> = {}): Promise<LocalWorker> {
  // Run as deployed (rate limits on) but with /healthz's internals and /embed open to the local client.
  const w = await startLocalWorker({ persistDir, bundle: await sharedWorkerBundle(), host: "127.0.0.1", onLog: () => undefined, vars: { PUBLIC_DIAGNOSTICS: "on", EMBED_PUBLIC: "on" }, ...extra });
  const warm = await w.fetch("/v1/healthz");
  if (warm.status !== 200) throw new Error(`worker not healthy: ${warm.status} ${await warm.text()}`);
  return w;
}

type Answers = Map<string, string>;

/** Each query's answer (POST, k 10) as text, or `<status> <code>`. */
async function answerAll(w: LocalWorker, queries: readonly string[]): Promise<Answers> {
  const out: Answers = new Map();
  for (const q of queries) {
    const res = await w.fetch("/v1/search", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ q, k: 10 }) });
    const body = (await res.json()) as { results?: unknown; error?: { code: string } };
    out.set(q, res.status === 200 ? JSON.stringify(body.results) : `${res.status} ${body.error?.code ?? "no_envelope"}`);
  }
  return out;
}

/** How each answer compares with the healthy store's: identical, or which status and code. */
function compare(got: Answers, baseline: Answers): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const [q, a] of got) {
    const kind = a === baseline.get(q) ? "identical" : /^\d{3} /.test(a) ? a : "different 200 (a smaller or wrong answer)";
    tally[kind] = (tally[kind] ?? 0) + 1;
  }
  return tally;
}

/** fetch, sent once more if the connection was reset before any answer (a kept-alive socket workerd closed while idle). */
function retryOnReset(w: LocalWorker): (p: string, init?: RequestInit) => Promise<Response> {
  return (p, init) => w.fetch(p, init).catch(() => w.fetch(p, init));
}

async function loadAndMemory(persistDir: string, queries: string[], items: number, version: string, o: { clients: number; seconds: number }, phase: Phase) {
  const w = await start(persistDir, { inspect: true, ratelimits: wranglerRatelimits() });
  const fetch = retryOnReset(w);
  try {
    process.stderr.write(`load: ${o.clients} clients x ${o.seconds} s\n`);
    const load = await phase("load", async () => {
      const { answers, ...load } = await runLoad(w.url, { clients: o.clients, seconds: o.seconds, queries, items, versions: () => [version] });
      void answers;
      return load;
    });
    const memory = await phase("memory", async () => {
      const afterLoadMiB = await isolateMiB(w, fetch);
      const resident = residentWords(((await (await fetch("/v1/healthz")).json()) as { resident?: ResidentHealth }).resident);
      // A burst: 8 concurrent batches of 16 queries of ~160 characters: as long as a batch's
      // texts can be and stay within MAX_SEARCH_TOKENS (1,024) with headline words, the largest legal search batch.
      const burst = Array.from({ length: 16 }, (_, i) => `burst ${i} ` + queries.slice(i * 8, i * 8 + 8).join(" ").slice(0, 160));
      const afterBurstsMiB: Isolate[] = [];
      for (let b = 0; b < 3; b++) {
        const statuses = await Promise.all(
          Array.from({ length: 8 }, (_, c) =>
            fetch("/v1/search", { method: "POST", headers: { "Content-Type": "application/json", "CF-Connecting-IP": `10.9.${b}.${c}` }, body: JSON.stringify({ queries: burst, k: 100 }) }).then(async (r) => (await r.arrayBuffer(), r.status)),
          ),
        );
        if (statuses.some((s) => s !== 200)) throw new Error(`burst answered ${statuses.join(",")}`);
        afterBurstsMiB.push(await isolateMiB(w, fetch));
      }
      return { afterLoadMiB, afterBurstsMiB, limitMiB: MEMORY_LIMIT_MIB, burst: "8 concurrent POST batches of 16 queries of ~160 characters (within the search token budget), k 100", resident };
    });
    process.stderr.write(`hostile input\n`);
    // Each hostile request its own client address, so the limiter does not turn the run into 429s.
    let n = 0;
    const hostile = await phase("hostile input", () =>
      runHostileProperties((p, init) => fetch(p, { ...init, headers: { ...(init?.headers as Record<string, string>), "CF-Connecting-IP": `10.7.${(n >> 8) & 255}.${n++ & 255}` } }), 150),
    );
    process.stderr.write(`costly input (issue 24)\n`);
    const cost = await phase("costly input", () =>
      runCostProbes((p, init) => fetch(p, { ...init, headers: { ...(init?.headers as Record<string, string>), "CF-Connecting-IP": `10.8.${(n >> 8) & 255}.${n++ & 255}` } })),
    );
    if (cost) process.stderr.write(
      `costly input: ${cost.cases} requests, statuses ${JSON.stringify(cost.statuses)}, violations ${cost.violations.length}, stalls over 2 s ${cost.stalls} (slowest ${cost.slowestMs} ms: ${cost.slowest}); bystander ${cost.bystander.usualMs} ms alone, ${cost.bystander.duringMs} ms during hostile batches (${cost.bystander.ratio}x), ${cost.bystander.duringLegalMs} ms during the costliest legal ones (${cost.bystander.legalRatio}x)\n`,
    );
    return { load, memory, hostile, cost };
  } finally {
    await w.dispose();
  }
}

/** Corrupt, restore, delete, throw: each answer identical to the healthy store's or a coded 503. */
async function faults(persistDir: string, artifacts: string, allQueries: string[]) {
  const queries = allQueries.slice(0, FAULT_QUERIES);
  const manifest = await readManifest(artifacts);
  const { routing } = (await ArtifactSearch.open(artifacts)).handle;
  const shardKeys = new Set(Array.from({ length: routing.leaves }, (_, l) => shardKey(routing, l)));
  const values = await artifactValues(artifacts, manifest);
  const shardsAndRecords = values.filter((v) => shardKeys.has(v.key) || v.key.startsWith("item/"));
  // Every 10th record: a query then misses some of its re-rank records, or none.
  const someRecords = values.filter((v) => v.key.startsWith("item/")).filter((_, i) => i % 10 === 0).map((v) => v.key);
  const backup = `${persistDir}.bak`;
  const run = async (extra: Partial<StartOptions> = {}) => {
    const w = await start(persistDir, extra);
    try {
      return await answerAll(w, queries);
    } finally {
      await w.dispose();
    }
  };
  const out: Record<string, Record<string, number>> = {};
  const baseline = await run();
  await snapshotStore(persistDir, backup);
  try {
    process.stderr.write(`faults: flipping a byte of ${shardsAndRecords.length} values\n`);
    out[`every shard and record corrupted (one byte flipped in ${await corruptOnDisk(persistDir, shardsAndRecords)} stored values), restarted`] = compare(await run(), baseline);
    await restoreStore(backup, persistDir);
    out["restored, restarted"] = compare(await run(), baseline);
    out[`every shard deleted (${await damageValues(persistDir, "delete", [...shardKeys])} values), restarted`] = compare(await run(), baseline);
    await restoreStore(backup, persistDir);
    out[`every 10th item record deleted (${await damageValues(persistDir, "delete", someRecords)} values), restarted`] = compare(await run(), baseline);
    await restoreStore(backup, persistDir);
    const residentKeys = manifest.resident?.blocks.map((b) => b.key) ?? [];
    if (residentKeys.length) {
      // The copy fails its checksum and is not used: round 2 reads KV, and the answers must not change.
      out[`every resident block corrupted (${await corruptOnDisk(persistDir, values.filter((v) => residentKeys.includes(v.key)))} values), restarted`] = compare(await run(), baseline);
      await restoreStore(backup, persistDir);
    }
    const w = await start(persistDir, { rewire: faultyKv });
    try {
      const batch = await batchSpeedUp(w, allQueries);
      await injectKvFault(w, [""]);
      out["every KV read throws (a test binding; queries not cached, isolate warm)"] = compare(await answerAll(w, queries), baseline);
      await injectKvFault(w, []);
      out["KV healed"] = compare(await answerAll(w, queries), baseline);
      return { faults: out, batch };
    } finally {
      await w.dispose();
    }
  } finally {
    await rm(backup, { recursive: true, force: true });
  }
}

/**
 * A 16-query batch's search wall time against the same kind of 16 queries sent
 * one at a time (the sum of their search times: what a sequential batch costs),
 * with local KV and with 20 ms added to every shard and record read.
 */
async function batchSpeedUp(w: LocalWorker, queries: string[]) {
  const rows = [];
  const search = async (body: unknown) =>
    (await (await w.fetch("/v1/search", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json()) as { timings: { search_ms: number } };
  // The fault queries are the first 40: start after them.
  let offset = FAULT_QUERIES;
  for (const kvDelayMs of [0, 20]) {
    await injectKvFault(w, kvDelayMs ? ["blob/", "item/"] : [], { delayMs: kvDelayMs });
    const walls: number[] = [];
    const sums: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      // Different headlines every time (a variant of the same text would find its shards cached).
      const fresh = () => Array.from({ length: 16 }, () => queries[offset++ % queries.length]);
      walls.push((await search({ queries: fresh(), k: 10 })).timings.search_ms);
      let sum = 0;
      for (const q of fresh()) sum += (await search({ q, k: 10 })).timings.search_ms;
      sums.push(sum);
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
    rows.push({ kvDelayMs, batchWallMs: Math.round(med(walls)), sumOfQueriesMs: Math.round(med(sums)), speedUp: Math.round((med(sums) / med(walls)) * 10) / 10 });
  }
  await injectKvFault(w, []);
  return rows;
}

async function ensureArtifacts(dir: string | undefined, cacheDir: string): Promise<string> {
  if (dir && existsSync(path.join(dir, "manifest.json"))) return dir;
  const out = await mkdtemp(path.join(os.tmpdir(), "ess-loadtest-sample-"));
  process.stderr.write(`no 50k artifacts given: building the committed 2,000-headline sample into ${out}\n`);
  await runBuild({ corpus: SAMPLE_CSV, out, cacheDir, quiet: true });
  return out;
}

const USAGE = `npm run loadtest -- [--artifacts DIR] [--seconds 60] [--clients 16] [--cache DIR] [--out PATH]

Load, deploy under load, faults, hostile input and memory against the Worker in local workerd.

  --artifacts DIR   the index to serve (e.g. a 50k build); default: the committed 2,000-headline sample, built
  --seconds N       length of the load phase (default 60)
  --clients N       concurrent clients in the load phase (default 16)
  --cache DIR       the embedding cache (default .cache/embeddings)
  --out PATH        writes PATH.json and PATH.md (default docs/reliability)
  -h, --help        this text
`;

const LOADTEST_CONFIG = {
  options: {
    ...HELP_FLAG,
    artifacts: { type: "string" },
    seconds: { type: "string", default: "60" },
    clients: { type: "string", default: "16" },
    cache: { type: "string", default: DEFAULT_CACHE },
    out: { type: "string", default: path.join(PROJECT_ROOT, "docs", "reliability") },
  },
} as const;

export async function main(): Promise<number> {
  return runCli(USAGE, LOADTEST_CONFIG, async ({ values }) => {
    parseIntFlag("seconds", values.seconds);
    parseIntFlag("clients", values.clients);
    await loadtest(values);
  });
}

async function loadtest(values: { artifacts?: string; seconds: string; clients: string; cache: string; out: string }): Promise<void> {
  const run = startRun();
  const artifacts = await ensureArtifacts(values.artifacts, values.cache);
  const manifest = await readManifest(artifacts);
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-loadtest-"));
  try {
    process.stderr.write(`publishing ${manifest.items} items into ${persistDir}\n`);
    await publishToLocalKv(persistDir, artifacts);
    const all = await texts(artifacts);
    const queries = sampleQueries(all, 400, 4242).map((s) => s.text);
    const phase: Phase = async (name, run) => {
      try {
        return await run();
      } catch (e) {
        // One phase failing must not lose the others' figures: it is reported instead.
        failures.push(`${name}: ${String((e as Error).stack ?? e)}`);
        process.stderr.write(`${name} failed: ${String(e)}\n`);
        return undefined;
      }
    };
    const failures: string[] = [];
    const lm = await phase("worker start", () => loadAndMemory(persistDir, queries, manifest.items, manifest.version, { clients: Number(values.clients), seconds: Number(values.seconds) }, phase));
    const fb = await phase("faults", () => faults(persistDir, artifacts, queries));
    process.stderr.write(`deploy under load\n`);
    const deploy = await phase("deploy under load", () => deployUnderLoad(SAMPLE_CSV, values.cache, queries.slice(0, 30)));
    const meta = finishRun(run);
    const figures = {
      meta,
      machine: `${meta.machine.cpus} cores (${meta.machine.model}), load average ${meta.load.start} at the start and ${meta.load.end} at the end`,
      corpus: { artifacts, items: manifest.items, version: manifest.version, shards: manifest.params.leaves },
      ...lm,
      ...fb,
      deploy,
      failures,
    } as Figures;
    await writeFile(`${values.out}.json`, JSON.stringify(figures, null, 2) + "\n");
    await writeFile(`${values.out}.md`, markdown(figures));
    process.stderr.write(`wrote ${values.out}.md and .json\n`);
  } finally {
    await rm(persistDir, { recursive: true, force: true });
  }
}
