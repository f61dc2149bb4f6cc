// Per-isolate state: one shared model load under concurrency, no cached failures,
// corrupt or missing model blobs reported as 503, version pointer semantics, and
// corrupt or missing shards of the real index (test/helpers/index-fixture.ts).
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createNodeEmbedder } from "../scripts/builder/embedding/node-model.ts";
import { publishManifest } from "../scripts/local/seed.ts";
import { ArtifactSearch } from "../scripts/artifacts/node-search.ts";
import { nearestLeaves } from "../lib/index/reader.ts";
import { shardKey, shardStoredBytes } from "../lib/index/format.ts";
import type { Embedder } from "../lib/model/embed.ts";
import { evaluationQueries, fixtureTexts } from "./helpers/index-fixture.ts";
import { expectSameHits, post, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { faultyKv, injectKvFault } from "../scripts/local/faulty-kv.ts";
import { retryDelayMs } from "../functions/index-state.ts";

let worker: TestWorker | undefined;
afterEach(async () => {
  await worker?.dispose();
  worker = undefined;
});

describe("model initialisation", () => {
  it("20 concurrent first /search requests share one model load and all answer correctly", async () => {
    worker = await startTestWorker({ index: true });
    const fixture = inject("indexFixture");
    const [engine, node] = await Promise.all([ArtifactSearch.open(fixture.dir), createNodeEmbedder()]);
    const queries = evaluationQueries(await fixtureTexts(engine)).slice(30, 50);
    const responses = await Promise.all(queries.map((q) => worker!.json(`/v1/search?q=${encodeURIComponent(q)}&k=5&mode=semantic`)));
    const vectors = await node.embed(queries);
    for (let i = 0; i < queries.length; i++) {
      const res = responses[i];
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.query).toBe(queries[i]);
      expectSameHits(res.body.results, (await engine.approximate(vectors[i], 5)).results, queries[i]);
    }
    const health = await worker.json("/v1/healthz");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", version: fixture.version, items: 2000, model: node.modelId, model_loads: 1 });
  });

  it("reports a corrupted weights blob as 503 model_corrupt, then recovers once it is fixed", async () => {
    worker = await startTestWorker({ seedModel: true });
    const ref = worker.model!.weights;
    const good = (await worker.kv.get(ref.key, "arrayBuffer"))!;
    const bad = new Uint8Array(good.slice(0));
    bad[bad.length >> 1] ^= 0xff; // same length, one flipped byte: only the hash can tell
    await worker.kv.put(ref.key, bad.buffer);
    for (const p of ["/v1/healthz", "/v1/embed"]) {
      const res = await worker.json(p, p === "/v1/embed" ? post({ texts: ["x"] }) : undefined);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("model_corrupt");
      expect(res.body.error.message).toMatch(/sha256/);
    }
    await worker.kv.put(ref.key, good);
    const ok = await worker.json("/v1/healthz");
    expect(ok.status).toBe(200);
    expect(ok.body.model_loads).toBe(3); // two failed attempts were not cached
  });

  it("reports truncated weights, a corrupt topology and missing blobs as 503", async () => {
    worker = await startTestWorker({ seedModel: true });
    const model = worker.model!;
    const weights = (await worker.kv.get(model.weights.key, "arrayBuffer"))!;
    await worker.kv.put(model.weights.key, weights.slice(0, weights.byteLength - 1000));
    let res = await worker.json("/v1/healthz");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("model_corrupt");

    await worker.kv.put(model.weights.key, weights);
    const topology = (await worker.kv.get(model.topology.key, "text"))!;
    await worker.kv.put(model.topology.key, topology.replace('"', "'"));
    res = await worker.json("/v1/healthz");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("model_corrupt");

    await worker.kv.put(model.topology.key, topology);
    await worker.kv.delete(model.vocab.key);
    res = await worker.json("/v1/embed", post({ texts: ["x"] }));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("model_missing");
  });
});

/** Asks /healthz until `done` holds (the refresh runs after the answer, in waitUntil), at most `ms`. */
async function healthUntil(done: (body: any) => boolean, ms = 15_000): Promise<{ body: any; asked: number }> {
  const t0 = Date.now();
  for (let asked = 1; ; asked++) {
    const res = await worker!.json("/v1/healthz");
    if (done(res.body) || Date.now() - t0 > ms) return { body: res.body, asked };
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("index version resolution", () => {
  it("keeps serving the loaded version while a new pointer's manifest is unreadable", async () => {
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "0" } });
    expect((await worker.json("/v1/healthz")).body.version).toBe("v1");
    // Pointer first, manifest later: what an eventually consistent KV can show.
    await worker.kv.put("current", JSON.stringify({ version: "v2", manifestKey: "manifest/v2", switchedAt: new Date().toISOString() }));
    for (let i = 0; i < 5; i++) {
      const during = await worker.json("/v1/healthz");
      expect(during.status).toBe(200);
      expect(during.body.version).toBe("v1");
    }
    // A pointer ahead of its manifest is KV lag, not a failure: no back-off, the next refresh adopts it.
    await publishManifest(worker.kv, { version: "v2", model: worker.model!, items: 7 });
    const after = await healthUntil((b) => b.version === "v2");
    expect(after.body).toMatchObject({ version: "v2", items: 7, model_loads: 1 });
    expect(after.asked).toBeLessThanOrEqual(3);
  });

  it("a request never waits for a refresh: with the new manifest's read held 3 s, answers come from v1 at once", async () => {
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "0" }, rewire: faultyKv });
    expect((await worker.json("/v1/healthz")).body.version).toBe("v1");
    await injectKvFault(worker, ["manifest/v2"], { delayMs: 3000 });
    await publishManifest(worker.kv, { version: "v2", model: worker.model!, items: 7 });
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      const res = await worker.json("/v1/embed", post({ texts: ["still fast"] }));
      expect(res.status).toBe(200);
      expect((await worker.json("/v1/healthz")).body.version).toBe("v1");
    }
    // Ten answers in well under the 3 s the refresh is stuck for.
    expect(Date.now() - t0).toBeLessThan(2000);
    await injectKvFault(worker, []);
    expect((await healthUntil((b) => b.version === "v2")).body).toMatchObject({ version: "v2", items: 7, model_loads: 1 });
  });

  it("keeps serving the loaded version when a new version names a broken model, retrying it with back-off, logged once per attempt", async () => {
    const logs: string[] = [];
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "0" }, onLog: (l) => logs.push(l) });
    expect((await worker.json("/v1/healthz")).body.version).toBe("v1");
    const broken = { ...worker.model!, id: "broken", weights: { ...worker.model!.weights, key: "blob/does-not-exist" } };
    await publishManifest(worker.kv, { version: "v2", model: broken, items: 5 });
    // 40 requests over ~2 s, each past the 0 ms TTL: one load attempt of the broken model, not 40.
    for (let i = 0; i < 20; i++) {
      const res = await worker.json("/v1/embed", post({ texts: ["still works"] }));
      expect(res.status).toBe(200);
      expect(res.body.model).toBe(worker.model!.id);
      expect((await worker.json("/v1/healthz")).body).toMatchObject({ version: "v1" });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await worker.json("/v1/healthz")).body).toMatchObject({ version: "v1", model_loads: 2 });
    const failures = logs.filter((l) => l.includes("index version v2 failed to load"));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/\(attempt 1\): model weights blob blob\/does-not-exist not found in KV; next attempt in 10 s, serving v1 meanwhile/);
    // A fixed version (a new pointer) is not held back by v2's back-off; the old model is retired.
    await publishManifest(worker.kv, { version: "v3", model: worker.model!, items: 9 });
    expect((await healthUntil((b) => b.version === "v3")).body).toMatchObject({ version: "v3", items: 9, model: worker.model!.id, model_loads: 2 });
  });

  it("returns 503 index_unavailable when the first pointer names a manifest not yet readable", async () => {
    worker = await startTestWorker({ vars: { POINTER_TTL_MS: "0" } });
    await worker.kv.put("current", JSON.stringify({ version: "v9", manifestKey: "manifest/v9", switchedAt: "" }));
    const res = await worker.json("/v1/search?q=hello");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("index_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("backs off 10 s, 20 s, 40 s ... up to 5 min between attempts at a broken version", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 12].map((n) => retryDelayMs(n) / 1000)).toEqual([10, 20, 40, 80, 160, 300, 300, 300]);
  });

  it("trusts its cached pointer for POINTER_TTL_MS", async () => {
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "600000" } });
    expect((await worker.json("/v1/healthz")).body.version).toBe("v1");
    await publishManifest(worker.kv, { version: "v2", model: worker.model!, items: 1 });
    expect((await worker.json("/v1/healthz")).body.version).toBe("v1");
  });
});

describe("shard errors on the real index", () => {
  const fixture = inject("indexFixture");
  let engine: ArtifactSearch;
  let embedder: Embedder;
  beforeAll(async () => {
    [engine, embedder] = await Promise.all([ArtifactSearch.open(fixture.dir), createNodeEmbedder()]);
  });

  /** The shards a query reads, in probe order, as the Worker's own code picks them. */
  async function shardsOf(q: string): Promise<{ vector: Float32Array; keys: string[] }> {
    const [vector] = await embedder.embed([q]);
    const leaves = nearestLeaves(engine.handle.routing, vector, engine.manifest.params.nprobe, engine.manifest.params.scanLeaves);
    return { vector, keys: leaves.map((l) => shardKey(engine.handle.routing, l)) };
  }

  async function expectAnswer(q: string, vector: Float32Array) {
    const res = await worker!.json(`/v1/search?q=${encodeURIComponent(q)}&mode=semantic`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectSameHits(res.body.results, (await engine.approximate(vector, 10)).results, q);
  }

  async function expectShardError(q: string, code: string, key: string) {
    const res = await worker!.json(`/v1/search?q=${encodeURIComponent(q)}&mode=semantic`);
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toContain(key);
    // A checksum failure is not transient: no Retry-After.
    expect(res.headers.get("retry-after")).toBe(code.endsWith("_corrupt") ? null : "5");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  }

  it("a corrupt and then a missing shard give 503 shard_corrupt / shard_missing; restored, the same query answers", async () => {
    // A fresh isolate: nothing is cached, so the first query reads every shard it needs from KV.
    worker = await startTestWorker({ index: true });
    const q1 = "drought relief for farmers";
    const first = await shardsOf(q1);
    const target = first.keys[0];
    const good = (await worker.kv.get(target, "text"))!;
    const routing = engine.handle.routing;
    expect(good.length).toBe(shardStoredBytes(routing, Array.from({ length: routing.leaves }, (_, l) => l).find((l) => shardKey(routing, l) === target)!));
    // Same length, one base64 character changed: only the checksum can tell.
    const mid = good.length >> 1;
    await worker.kv.put(target, good.slice(0, mid) + (good[mid] === "A" ? "B" : "A") + good.slice(mid + 1));
    await expectShardError(q1, "shard_corrupt", target);
    await worker.kv.delete(target);
    await expectShardError(q1, "shard_missing", target);
    await worker.kv.put(target, good);
    await expectAnswer(q1, first.vector);

    // Now a warm isolate (model loaded, q1's shards cached): a shard no earlier
    // query read is still fetched, so its loss still shows.
    const q2 = "cricket team wins the test series";
    const second = await shardsOf(q2);
    const fresh = second.keys.find((k) => !first.keys.includes(k));
    expect(fresh, "q2 must need a shard q1 did not read").toBeDefined();
    const saved = (await worker.kv.get(fresh!, "text"))!;
    await worker.kv.delete(fresh!);
    await expectShardError(q2, "shard_missing", fresh!);
    await worker.kv.put(fresh!, saved);
    await expectAnswer(q2, second.vector);
    expect((await worker.json("/v1/healthz")).body.model_loads).toBe(1);
  });
});
