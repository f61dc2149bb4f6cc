// The isolate's caches in workerd: shards, item records and lexicon parts have
// separate byte budgets (SHARD_CACHE_KIB, RECORD_CACHE_KIB, LEXICON_CACHE_KIB),
// so the records of many queries evict each other but never the shards, and a
// warm isolate goes back to KV for records only; a hybrid query whose lexicon
// parts are not cached reads them alone. Run on the 2,000-headline index with a
// record budget of a few queries' worth.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { post, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";

/** About 150 records at their charge (2x ~0.8 KB): the records of two queries, not three. */
const RECORD_CACHE_KIB = 256;
/** Every shard of the fixture (~0.2 MB) and then some. */
const SHARD_CACHE_KIB = 4096;
/** Every lexicon part of the fixture and then some. */
const LEXICON_CACHE_KIB = 2048;
const FLOOD = ["cricket test match", "rain brings relief to farmers", "council rates rise", "police investigate fatal crash", "new hospital opens", "iraq war protest", "interest rates on hold", "bushfire threatens homes"];

interface Stats {
  shards: number;
  records: number;
  bytes: number;
  fetched_bytes: number;
  round_trips: number;
  lexical?: { parts: number };
}

describe("the isolate's value caches", () => {
  let w: TestWorker;
  beforeAll(async () => {
    // Residency off: with the records resident, round 2 would not touch the record cache.
    w = await startTestWorker({ index: true, vars: { RECORD_CACHE_KIB: String(RECORD_CACHE_KIB), SHARD_CACHE_KIB: String(SHARD_CACHE_KIB), LEXICON_CACHE_KIB: String(LEXICON_CACHE_KIB), RESIDENT_KIB: "0" } });
  });
  afterAll(async () => w?.dispose());

  async function search(q: string): Promise<Stats> {
    const res = await w.json("/v1/search", post({ q, k: 10 }));
    expect(res.status).toBe(200);
    return res.body.stats as Stats;
  }

  it("keeps a query's shards while other queries' records evict its records", async () => {
    const q = "drought hits farmers";
    const cold = await search(q);
    expect(cold).toMatchObject({ round_trips: 2, fetched_bytes: cold.bytes });
    // Round 2's depth follows the PQ scores (lib/index/rerank-depth.ts): 2k to rerank records.
    expect(cold.records).toBeGreaterThanOrEqual(20);
    expect(cold.records).toBeLessThanOrEqual(w.manifest!.params.rerank);
    const again = await search(q);
    expect(again).toMatchObject({ round_trips: 0, fetched_bytes: 0, bytes: cold.bytes });
    for (const other of FLOOD) await search(other);
    const warm = await search(q);
    // One round, for the records alone: every shard was still cached.
    expect(warm.round_trips).toBe(1);
    expect(warm.bytes).toBe(cold.bytes);
    expect(warm.fetched_bytes).toBeGreaterThan(0);
    expect(warm.fetched_bytes).toBeLessThan(cold.fetched_bytes);
    // And the records it read are cached again.
    expect(await search(q)).toMatchObject({ round_trips: 0, fetched_bytes: 0 });
  });
});

describe("lexicon parts in their own budget", () => {
  let w: TestWorker;
  beforeAll(async () => {
    // No lexicon budget: every hybrid query reads its parts, and nothing else once warm.
    w = await startTestWorker({ index: true, vars: { LEXICON_CACHE_KIB: "0", SHARD_CACHE_KIB: String(SHARD_CACHE_KIB), RECORD_CACHE_KIB: "4096", RESIDENT_KIB: "0", SEARCH_CACHE_SECONDS: "0" } });
  });
  afterAll(async () => w?.dispose());

  async function search(body: Record<string, unknown>): Promise<Stats> {
    const res = await w.json("/v1/search", post({ k: 10, ...body }));
    expect(res.status).toBe(200);
    return res.body.stats as Stats;
  }

  it("reads a warm hybrid query's lexicon parts alone, its shards and records still cached", async () => {
    const q = "drought hits farmers";
    const cold = await search({ q, mode: "hybrid" });
    expect(cold).toMatchObject({ round_trips: 2, fetched_bytes: cold.bytes });
    expect(cold.lexical?.parts).toBeGreaterThan(0);
    const warm = await search({ q, mode: "hybrid" });
    expect(warm.round_trips).toBe(1);
    expect(warm.bytes).toBe(cold.bytes);
    expect(warm.fetched_bytes).toBeGreaterThan(0);
    expect(warm.fetched_bytes).toBeLessThan(cold.fetched_bytes);
    // The parts were the whole of it: without them the query reads nothing.
    expect(await search({ q, mode: "semantic" })).toMatchObject({ round_trips: 0, fetched_bytes: 0 });
  });
});
