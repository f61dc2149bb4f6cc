// `npm run bench -- --latency` on a prebuilt index (the 2,000-headline fixture):
// the Worker through HTTP, /search and /embed of the same texts timed in the
// same runs, and issue 8's two latency targets judged from them.
import { expect, inject, test } from "vitest";
import { runLatencyBench } from "../scripts/bench/latency.ts";
import { latencyMarkdown } from "../scripts/bench/report.ts";
import { parseQueryLines, QUESTIONS_FILE } from "../scripts/bench/queries.ts";
import { readFile } from "node:fs/promises";

const PERTURBED = 10;

test("measures the warm-latency targets on a prebuilt index", async () => {
  const fixture = inject("indexFixture");
  const questions = parseQueryLines(await readFile(QUESTIONS_FILE, "utf8")).length;
  const r = await runLatencyBench({ corpus: "unused-with-artifacts", artifacts: fixture.dir, perturbed: PERTURBED, repeats: 2, bundle: inject("workerBundle") });
  expect(r.meta).toMatchObject({ items: 2000, queries: questions + PERTURBED, repeats: 2 });
  const L = r.latency;
  expect(L.e2e.p50.runs).toHaveLength(2);
  expect(L.embedEndpoint.e2e.p50.runs).toHaveLength(2);
  expect(r.targets.e2eOverEmbed).toEqual({ target: 1.5, value: L.e2eOverEmbedP50.median, pass: L.e2eOverEmbedP50.median <= 1.5 });
  expect(r.targets.computeP50Ms).toEqual({ target: 5, value: L.compute.p50.median, pass: L.compute.p50.median <= 5 });
  // Every shard and record of the 2,000 items fits the isolate's caches: the timed runs read nothing from KV.
  expect(L.kvRounds.mean.median).toBe(0);
  expect(L.kvBytes.mean.median).toBe(0);
  expect(r.memory.arrayBufferBytes).toBeGreaterThan(0);
  expect(r.meta.load.start).toBeGreaterThanOrEqual(0);
  const md = latencyMarkdown(r);
  expect(md).toContain(`| warm end-to-end p50: /search ÷ /embed of one text (same run, same client) ≤ 1.5 | ${r.targets.e2eOverEmbed.value.toFixed(2)} (`);
  expect(md).toContain("| — of it, waiting for KV p50 / p95 / mean (rounds and bytes read from KV per timed query, mean) |");
}, 180_000);
