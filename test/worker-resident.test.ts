// Resident records in workerd (functions/resident-load.ts): a serving version's
// records load in the background, after which round 2 reads nothing from KV
// and the answers stay those of the Node search over the same artifacts. A copy
// over the isolate's budget is not loaded; a corrupt one fails with its key in
// /healthz while every answer still comes whole from KV.
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createNodeEmbedder } from "../scripts/builder/embedding/node-model.ts";
import { ArtifactSearch } from "../scripts/artifacts/node-search.ts";
import type { Embedder } from "../lib/model/embed.ts";
import { evaluationQueries, fixtureTexts } from "./helpers/index-fixture.ts";
import { expectSameHits, post, startTestWorker, type Hit, type TestWorker } from "./helpers/workerd-fixture.ts";

const fixture = inject("indexFixture");
let engine: ArtifactSearch;
let embedder: Embedder;
let w: TestWorker | undefined;
beforeAll(async () => {
  [engine, embedder] = await Promise.all([ArtifactSearch.open(fixture.dir), createNodeEmbedder()]);
});
afterEach(async () => {
  await w?.dispose();
  w = undefined;
});

const QUERIES = ["drought hits farmers", "new sars cases reported in hong kong", "council rates rise", "cricket test match"];
const SETTLE_MS = 30_000;

interface Resident {
  state: string;
  items?: number;
  bytes?: number;
  budget_bytes?: number;
  load_ms?: number;
  error?: string;
}

async function residentOf(worker: TestWorker): Promise<Resident> {
  const res = await worker.json("/v1/healthz");
  expect(res.status).toBe(200);
  return res.body.resident as Resident;
}

/** /healthz's resident status once it has left "loading". */
async function settled(worker: TestWorker): Promise<Resident> {
  const t0 = Date.now();
  for (;;) {
    const r = await residentOf(worker);
    if (r.state !== "loading" || Date.now() - t0 > SETTLE_MS) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Each query answered as the Node search answers it; returns the stats. */
async function searchAll(worker: TestWorker, queries: string[]) {
  const vectors = await embedder.embed(queries);
  const stats = [];
  for (let i = 0; i < queries.length; i++) {
    const res = await worker.json("/v1/search", post({ q: queries[i], k: 10, mode: "semantic" }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectSameHits(res.body.results as Hit[], (await engine.approximate(vectors[i], 10)).results, queries[i]);
    stats.push(res.body.stats as { records: number; resident_records: number; round_trips: number; bytes: number });
  }
  return stats;
}

describe("resident records", () => {
  it("the fixture's build wrote a resident copy of all 2,000 records", () => {
    expect(engine.manifest.resident).toMatchObject({ items: 2000 });
    expect(engine.manifest.resident!.blocks.length).toBeGreaterThanOrEqual(1);
    // 512 int8 bytes a vector, plus key, size, scale and JSON.
    expect(engine.manifest.resident!.bytes).toBeGreaterThan(2000 * 512);
    expect(engine.manifest.resident!.bytes).toBeLessThan(2000 * 1024);
  });

  it("load in the background after the first request; then round 2 reads no record and the answers are unchanged", async () => {
    w = await startTestWorker({ index: true });
    await searchAll(w, QUERIES.slice(0, 1));
    const r = await settled(w);
    expect(r).toMatchObject({ state: "loaded", items: 2000, bytes: engine.manifest.resident!.bytes });
    expect(r.load_ms).toBeGreaterThanOrEqual(0);
    const evalQueries = evaluationQueries(await fixtureTexts(engine)).slice(0, 20);
    for (const s of await searchAll(w, [...QUERIES, ...evalQueries])) {
      expect(s.records).toBeGreaterThanOrEqual(20);
      expect(s.resident_records).toBe(s.records);
      // Round 1 only (shards), or none once they are cached.
      expect(s.round_trips).toBeLessThanOrEqual(1);
    }
  });

  it("a copy larger than RESIDENT_KIB is not loaded: every record comes from KV", async () => {
    w = await startTestWorker({ index: true, vars: { RESIDENT_KIB: "64" } });
    await searchAll(w, QUERIES.slice(0, 1));
    expect(await settled(w)).toMatchObject({ state: "over_budget", budget_bytes: 64 * 1024 });
    const stats = await searchAll(w, QUERIES.slice(1));
    for (const s of stats) expect(s.resident_records).toBe(0);
    expect(stats[0].round_trips).toBe(2);
  });

  it("RESIDENT_KIB 0 turns residency off", async () => {
    w = await startTestWorker({ index: true, vars: { RESIDENT_KIB: "0" } });
    await searchAll(w, QUERIES.slice(0, 1));
    expect(await settled(w)).toMatchObject({ state: "off", budget_bytes: 0 });
    const [s] = await searchAll(w, QUERIES.slice(1, 2));
    expect(s.resident_records).toBe(0);
  });

  it("a corrupt block fails the load, named in /healthz; every answer still comes whole from KV", async () => {
    w = await startTestWorker({ index: true });
    const key = engine.manifest.resident!.blocks[0].key;
    const good = (await w.kv.get(key, "text"))!;
    const mid = good.length >> 1;
    await w.kv.put(key, good.slice(0, mid) + (good[mid] === "A" ? "B" : "A") + good.slice(mid + 1));
    await searchAll(w, QUERIES.slice(0, 1));
    const r = await settled(w);
    expect(r.state).toBe("failed");
    expect(r.error).toContain(`resident block ${key} fails its checksum`);
    const stats = await searchAll(w, QUERIES.slice(1));
    for (const s of stats) {
      expect(s.resident_records).toBe(0);
      expect(s.records).toBeGreaterThanOrEqual(20);
    }
  });
});
