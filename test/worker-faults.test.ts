// KV faults on the real index (test/helpers/index-fixture.ts): a read that throws
// is a transient 503 index_unavailable with Retry-After; a value failing its
// checksum is a 503 *_corrupt without Retry-After (retrying will not fix it); a
// missing item record is record_missing. Never a 500, never a smaller answer.
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createNodeEmbedder } from "../scripts/builder/embedding/node-model.ts";
import { ArtifactSearch } from "../scripts/artifacts/node-search.ts";
import { nearestLeaves, searchVector, type BlobSource } from "../lib/index/reader.ts";
import type { Embedder } from "../lib/model/embed.ts";
import { shardKey } from "../lib/index/format.ts";
import { faultyKv, injectKvFault } from "../scripts/local/faulty-kv.ts";
import { expectSameHits, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";

let worker: TestWorker | undefined;
afterEach(async () => {
  await worker?.dispose();
  worker = undefined;
});

const fixture = inject("indexFixture");
/** These faults are in KV reads: the records stay in KV (worker-resident.test.ts covers a corrupt resident copy). */
const KV_ONLY = { RESIDENT_KIB: "0" };
let engine: ArtifactSearch;
let embedder: Embedder;
beforeAll(async () => {
  [engine, embedder] = await Promise.all([ArtifactSearch.open(fixture.dir), createNodeEmbedder()]);
});

/** The shard and record keys a query reads, as the Worker's own code picks them (no cache). */
async function keysOf(q: string): Promise<{ vector: Float32Array; shards: string[]; records: string[] }> {
  const [vector] = await embedder.embed([q]);
  const leaves = nearestLeaves(engine.handle.routing, vector, engine.manifest.params.nprobe, engine.manifest.params.scanLeaves);
  const records: string[] = [];
  const spy: BlobSource = {
    async getTexts(keys) {
      records.push(...keys.filter((k) => k.startsWith("item/")));
      return engine.handle.source.getTexts(keys);
    },
  };
  await searchVector({ ...engine.handle, source: spy, cache: null }, vector, { k: 10 });
  return { vector, shards: leaves.map((l) => shardKey(engine.handle.routing, l)), records };
}

async function search(q: string) {
  return worker!.json(`/v1/search?q=${encodeURIComponent(q)}&mode=semantic`);
}

async function expectError(q: string, code: string, retryAfter: string | null, messagePart?: string) {
  const res = await search(q);
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(Object.keys(res.body)).toEqual(["error"]);
  expect(res.body.error.code).toBe(code);
  if (messagePart) expect(res.body.error.message).toContain(messagePart);
  expect(res.headers.get("retry-after")).toBe(retryAfter);
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
}

async function expectAnswer(q: string, vector: Float32Array) {
  const res = await search(q);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expectSameHits(res.body.results, (await engine.approximate(vector, 10)).results, q);
}

describe("KV reads that throw", () => {
  it("cold isolate: every read throws -> 503 index_unavailable with Retry-After on /search, /embed and /healthz; healed, it answers", async () => {
    worker = await startTestWorker({ index: true, rewire: faultyKv, vars: KV_ONLY });
    await injectKvFault(worker, [""]);
    await expectError("drought relief for farmers", "index_unavailable", "5", "injected fault");
    const health = await worker.json("/v1/healthz");
    expect(health.status).toBe(503);
    expect(health.body.error.code).toBe("index_unavailable");
    expect(health.headers.get("retry-after")).toBe("5");
    const embed = await worker.json("/v1/embed", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ texts: ["a"] }) });
    expect(embed.status).toBe(503);
    expect(embed.body.error.code).toBe("index_unavailable");
    await injectKvFault(worker, []);
    const q = "drought relief for farmers";
    await expectAnswer(q, (await keysOf(q)).vector);
  });

  it("warm isolate: shard reads and then record reads throw -> 503 index_unavailable; healed, the same queries answer", async () => {
    worker = await startTestWorker({ index: true, rewire: faultyKv, vars: KV_ONLY });
    const q1 = "drought relief for farmers";
    const first = await keysOf(q1);
    await expectAnswer(q1, first.vector);

    const q2 = "cricket team wins the test series";
    const second = await keysOf(q2);
    const freshShard = second.shards.find((k) => !first.shards.includes(k));
    expect(freshShard, "q2 must need a shard q1 did not read").toBeDefined();
    await injectKvFault(worker, [freshShard!]);
    await expectError(q2, "index_unavailable", "5", freshShard);

    const q3 = "police investigate a fatal car crash";
    const third = await keysOf(q3);
    const freshRecord = third.records.find((k) => !first.records.includes(k));
    expect(freshRecord, "q3 must need a record q1 did not read").toBeDefined();
    await injectKvFault(worker, ["item/"]);
    await expectError(q3, "index_unavailable", "5", "item/");
    // The version already served stays up while the pointer cannot be read either.
    await injectKvFault(worker, [""]);
    await expectAnswer(q1, first.vector);

    await injectKvFault(worker, []);
    await expectAnswer(q2, second.vector);
    await expectAnswer(q3, third.vector);
    expect((await worker.json("/v1/healthz")).body.model_loads).toBe(1);
  });
});

describe("missing and corrupt item records", () => {
  it("a missing record is 503 record_missing (with Retry-After), a corrupt one 503 shard_corrupt without; restored, the query answers", async () => {
    worker = await startTestWorker({ index: true, vars: KV_ONLY });
    const q = "bushfires threaten homes in canberra";
    const { vector, records } = await keysOf(q);
    expect(records.length).toBeGreaterThanOrEqual(20);
    expect(records.length).toBeLessThanOrEqual(engine.manifest.params.rerank);
    const target = records[records.length - 1];
    const good = (await worker.kv.get(target, "text"))!;
    await worker.kv.delete(target);
    await expectError(q, "record_missing", "5", target);
    const mid = good.length >> 1;
    await worker.kv.put(target, good.slice(0, mid) + (good[mid] === "a" ? "b" : "a") + good.slice(mid + 1));
    await expectError(q, "shard_corrupt", null, target);
    await worker.kv.put(target, good);
    await expectAnswer(q, vector);
  });
});
