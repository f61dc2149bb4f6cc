// Smoke test of the benchmark (npm run bench) on a few hundred headlines: every
// stage runs — cached build, the Worker through HTTP with its exact path, the
// seed pipeline, Annoy and hnswlib with their replays, the curve — and the
// outputs (JSON, Markdown, CSV, PNG) are written. The full 50k run is not a test.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { EXACT_SEARCH_PATH } from "../functions/exact-search.ts";
import { testWorkerBundle } from "../scripts/local/harness.ts";
import { writeOutputs } from "../scripts/bench/outputs.ts";
import { markdown } from "../scripts/bench/report.ts";
import { runBench, type BenchResult } from "../scripts/bench/run.ts";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";

// The committed 2,000-headline slice (every 25th row of the 50k file), so a fresh clone runs it.
const SOURCE = path.join(PROJECT_ROOT, "test", "fixtures", "abcnews-2003-every25.csv");
let dir: string;
let result: BenchResult;
let seconds: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ess-bench-smoke-"));
  // Every 6th row of the slice (every 150th headline): 333 items spread over the year.
  const [header, ...rows] = (await readFile(SOURCE, "utf8")).split("\n").filter((l) => l.trim() !== "");
  const corpus = path.join(dir, "abcnews-every150.csv");
  await writeFile(corpus, [header, ...rows.filter((_, i) => i % 6 === 5)].join("\n") + "\n");
  const t0 = performance.now();
  result = await runBench({
    corpus,
    perturbed: 20,
    repeats: 1,
    clients: [1, 4],
    exactQueries: 2,
    leafSizes: [],
    nprobes: [2, 4, 8],
    reranks: [10, 40],
    annoySearchK: [100, 1000],
    hnswEf: [10, 40],
    // Builds are content-addressed, so reruns of the test reuse them.
    cacheRoot: path.join(os.tmpdir(), "ess-bench-smoke-cache"),
    // No bundle given: the bench runs the test entry (functions/test-entry.ts), whose exact search it needs.
  });
  seconds = (performance.now() - t0) / 1000;
  await writeOutputs(result, { json: path.join(dir, "bench.json"), md: path.join(dir, "bench.md"), plotDir: dir });
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the bench measures the project through HTTP", () => {
  const p = result.project;
  expect(result.meta.corpus.items).toBeGreaterThan(250);
  expect(result.meta.queries.count).toBe(result.meta.queries.byKind.question + result.meta.queries.byKind.perturbed);
  expect(p.recallAt10).toBeGreaterThan(0.8);
  expect(p.recallAt1).toBeGreaterThan(0.8);
  expect(p.bytes.mean).toBeGreaterThan(0);
  expect(p.uncached.roundTrips.max).toBeLessThanOrEqual(2);
  expect(p.latency.e2e.p50.median).toBeGreaterThan(0);
  expect(p.latency.embed.p50.median).toBeGreaterThan(0);
  expect(p.cold.e2eMs).toBeGreaterThan(p.latency.e2e.p50.median);
  // The isolate's memory counts its ArrayBuffers (decoded routing, shards, record vectors), which the JS heap figure leaves out.
  expect(p.memory.arrayBufferBytes).toBeGreaterThan(0);
  expect(p.memory.isolateSteadyBytes).toBe(p.memory.jsHeapAfterGcBytes + p.memory.arrayBufferBytes + p.memory.wasmHeapBytes);
  expect(Object.keys(p.qps)).toEqual(["1", "4"]);
  expect(result.meta.git.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(result.meta.cpu.cores).toBeGreaterThan(0);
  console.log(`bench smoke: ${seconds.toFixed(1)} s, recall@10 ${p.recallAt10.toFixed(3)}`);
});

test("the same runs time /embed of one text, and the latency targets are judged from them", () => {
  const L = result.project.latency;
  expect(L.embedEndpoint.e2e.p50.runs).toHaveLength(1);
  expect(L.embedEndpoint.e2e.p50.median).toBeGreaterThan(0);
  expect(L.embedEndpoint.embed.p50.median).toBeGreaterThan(0);
  // The Worker's embedding is part of the round trip that contains it.
  expect(L.embedEndpoint.embed.p50.median).toBeLessThan(L.embedEndpoint.e2e.p50.median);
  const ratio = L.e2e.p50.median / L.embedEndpoint.e2e.p50.median;
  expect(L.e2eOverEmbedP50.median).toBeCloseTo(ratio, 9);
  expect(result.targets.e2eOverEmbed).toEqual({ target: 1.5, value: L.e2eOverEmbedP50.median, pass: ratio <= 1.5 });
  // Taking the KV waits out can only shorten a request.
  expect(L.e2eLessKvOverEmbedP50.median).toBeLessThanOrEqual(L.e2eOverEmbedP50.median);
  expect(L.e2eLessKvOverEmbedP50.median).toBeGreaterThan(0);
  // Compute and KV waits split the search: neither exceeds it.
  expect(L.compute.mean.median + L.kv.mean.median).toBeCloseTo(L.search.mean.median, 1);
  expect(result.targets.computeP50Ms).toEqual({ target: 5, value: L.compute.p50.median, pass: L.compute.p50.median <= 5 });
  const md = markdown(result);
  expect(md).toContain(`| warm end-to-end p50: /search ÷ /embed of one text (same run, same client) ≤ 1.5 | ${ratio.toFixed(2)} (`);
  expect(md).toContain("| search compute p50 (Worker CPU, KV waits excluded) ≤ 5 ms |");
});

test("exact search runs in the test entry's Worker, reads every item, and is not in the deployed bundle", async () => {
  const e = result.exactWorker;
  expect(e.queries).toBe(2);
  expect(e.records).toBe(result.meta.corpus.items);
  expect(e.recallAt10).toBeGreaterThan(0.9);
  const deployed = await readFile(inject("workerBundle").entry, "utf8");
  expect(deployed).not.toContain(EXACT_SEARCH_PATH);
  expect(deployed).not.toMatch(/\bexactSearch\b/);
  const testOnly = await readFile((await testWorkerBundle()).entry, "utf8");
  expect(testOnly).toContain(EXACT_SEARCH_PATH);
  expect(testOnly).toMatch(/\bexactSearch\b/);
});

test("baselines: the seed pipeline, Annoy and hnswlib, with faithful replays", () => {
  expect(result.seed.points).toHaveLength(1);
  expect(result.seed.points[0].recallAt10).toBeGreaterThan(0);
  for (const b of [result.seed, result.annoy, result.hnsw]) {
    expect(b.indexBytesPerItem).toBeGreaterThan(0);
    for (const pt of b.points) {
      expect(pt.replayAgreement).toBeGreaterThan(0.95);
      expect(pt.bytes).toBeGreaterThan(0);
      expect(pt.qps.median).toBeGreaterThan(0);
    }
  }
  expect(result.hnsw.points.map((p) => p.knob)).toEqual([10, 40]);
});

test("outputs: curve CSV, PNG, JSON and Markdown", async () => {
  expect(result.curve.length).toBeGreaterThanOrEqual(6);
  expect(result.curve.some((c) => c.isDefault)).toBe(true);
  const csv = await readFile(path.join(dir, "recall-vs-bytes.csv"), "utf8");
  expect(csv.split("\n")[0]).toContain("recall_at_10");
  const png = await readFile(path.join(dir, "recall-vs-bytes.png"));
  expect(png.subarray(1, 4).toString()).toBe("PNG");
  expect(JSON.parse(await readFile(path.join(dir, "bench.json"), "utf8")).project.recallAt10).toBe(result.project.recallAt10);
  expect(existsSync(path.join(dir, "bench.md"))).toBe(true);
  expect(markdown(result)).toContain("## 4. Annoy and hnswlib");
});
