// Per-isolate state: one shared model load under concurrency, no cached failures,
// corrupt or missing model blobs reported as 503, version pointer semantics, and
// the search path (through the temporary flat adapter) including shard errors.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createNodeEmbedder } from "../scripts/embed/node-model.ts";
import { prepareModel } from "../scripts/embed/node-model.ts";
import { publishManifest, putBlobs, putModel } from "../scripts/local/seed.ts";
import { post, startTestWorker, type TestWorker } from "./helpers/worker.ts";
import { cosine } from "./helpers/stats.ts";

let worker: TestWorker | undefined;
afterEach(async () => {
  await worker?.dispose();
  worker = undefined;
});

describe("model initialisation", () => {
  it("20 concurrent first requests share one model load and all answer correctly", async () => {
    worker = await startTestWorker({ seedModel: true });
    const texts = Array.from({ length: 20 }, (_, i) => `request number ${i} about topic ${String.fromCharCode(97 + i)}`);
    const responses = await Promise.all(texts.map((t) => worker!.json("/embed", post({ texts: [t] }))));
    const node = await createNodeEmbedder();
    const expected = await node.embed(texts);
    responses.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.headers.get("x-model-loads")).toBe("1");
      expect(cosine(res.body.vectors[0], expected[i])).toBeGreaterThanOrEqual(0.9999);
    });
    const health = await worker.json("/healthz");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", version: "v1", items: 0, model: node.modelId, model_loads: 1 });
  });

  it("reports a corrupted weights blob as 503 model_corrupt, then recovers once it is fixed", async () => {
    worker = await startTestWorker({ seedModel: true });
    const ref = worker.model!.weights;
    const good = (await worker.kv.get(ref.key, "arrayBuffer"))!;
    const bad = new Uint8Array(good.slice(0));
    bad[bad.length >> 1] ^= 0xff; // same length, one flipped byte: only the hash can tell
    await worker.kv.put(ref.key, bad.buffer);
    for (const p of ["/healthz", "/embed"]) {
      const res = await worker.json(p, p === "/embed" ? post({ texts: ["x"] }) : undefined);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("model_corrupt");
      expect(res.body.error.message).toMatch(/sha256/);
    }
    await worker.kv.put(ref.key, good);
    const ok = await worker.json("/healthz");
    expect(ok.status).toBe(200);
    expect(ok.body.model_loads).toBe(3); // two failed attempts were not cached
  });

  it("reports truncated weights, a corrupt topology and missing blobs as 503", async () => {
    worker = await startTestWorker({ seedModel: true });
    const model = worker.model!;
    const weights = (await worker.kv.get(model.weights.key, "arrayBuffer"))!;
    await worker.kv.put(model.weights.key, weights.slice(0, weights.byteLength - 1000));
    let res = await worker.json("/healthz");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("model_corrupt");

    await worker.kv.put(model.weights.key, weights);
    const topology = (await worker.kv.get(model.topology.key, "text"))!;
    await worker.kv.put(model.topology.key, topology.replace('"', "'"));
    res = await worker.json("/healthz");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("model_corrupt");

    await worker.kv.put(model.topology.key, topology);
    await worker.kv.delete(model.vocab.key);
    res = await worker.json("/embed", post({ texts: ["x"] }));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("model_missing");
  });
});

describe("index version resolution", () => {
  it("keeps serving the loaded version while a new pointer's manifest is unreadable", async () => {
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "0" } });
    expect((await worker.json("/healthz")).body.version).toBe("v1");
    // Pointer first, manifest later: what an eventually consistent KV can show.
    await worker.kv.put("current", JSON.stringify({ version: "v2", manifestKey: "manifest/v2", switchedAt: new Date().toISOString() }));
    const during = await worker.json("/healthz");
    expect(during.status).toBe(200);
    expect(during.body.version).toBe("v1");
    await publishManifest(worker.kv, { version: "v2", model: worker.model!, items: 7 });
    const after = await worker.json("/healthz");
    expect(after.body).toMatchObject({ version: "v2", items: 7, model_loads: 1 });
  });

  it("keeps serving the loaded version when a new version names a broken model", async () => {
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "0" } });
    expect((await worker.json("/healthz")).body.version).toBe("v1");
    const broken = { ...worker.model!, id: "broken", weights: { ...worker.model!.weights, key: "blob/does-not-exist" } };
    await publishManifest(worker.kv, { version: "v2", model: broken, items: 5 });
    const res = await worker.json("/embed", post({ texts: ["still works"] }));
    expect(res.status).toBe(200);
    expect(res.body.model).toBe(worker.model!.id);
    expect((await worker.json("/healthz")).body).toMatchObject({ version: "v1", model_loads: 3 });
    // Once the new version is fixed it is adopted, and the old model is retired.
    await publishManifest(worker.kv, { version: "v3", model: worker.model!, items: 9 });
    expect((await worker.json("/healthz")).body).toMatchObject({ version: "v3", items: 9, model: worker.model!.id });
  });

  it("returns 503 index_unavailable when the first pointer names a manifest not yet readable", async () => {
    worker = await startTestWorker({ vars: { POINTER_TTL_MS: "0" } });
    await worker.kv.put("current", JSON.stringify({ version: "v9", manifestKey: "manifest/v9", switchedAt: "" }));
    const res = await worker.json("/search?q=hello");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("index_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("trusts its cached pointer for POINTER_TTL_MS", async () => {
    worker = await startTestWorker({ seedModel: true, version: "v1", vars: { POINTER_TTL_MS: "600000" } });
    expect((await worker.json("/healthz")).body.version).toBe("v1");
    await publishManifest(worker.kv, { version: "v2", model: worker.model!, items: 1 });
    expect((await worker.json("/healthz")).body.version).toBe("v1");
  });
});

describe("search (temporary flat adapter)", () => {
  let w: TestWorker;
  const items = [
    { id: "h1", text: "drought leaves farmers facing ruin", meta: { publish_date: "20030219" } },
    { id: "h2", text: "council approves new city library", meta: { publish_date: "20030301" } },
    { id: "h3", text: "striker scores twice in cup final", meta: { publish_date: "20030415" } },
  ];
  beforeAll(async () => {
    w = await startTestWorker();
    const m = await prepareModel();
    const node = await createNodeEmbedder();
    const vecs = await node.embed(items.map((i) => i.text));
    const flat = new Float32Array(vecs.length * 512);
    vecs.forEach((v, i) => flat.set(v, i * 512));
    const model = await putModel(w.kv, m);
    const [vectors, itemsRef] = await putBlobs(w.kv, [flat.buffer, JSON.stringify(items)]);
    await publishManifest(w.kv, { version: "flat1", model, items: items.length, tempFlat: { vectors, items: itemsRef } });
  });
  afterAll(async () => w?.dispose());

  it("GET /search returns ranked results with the documented shape and Server-Timing", async () => {
    const res = await w.json("/search?q=no%20rain%20for%20the%20crops&k=2");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ query: "no rain for the crops", k: 2, index: { version: "flat1", items: 3 } });
    expect(res.body.results).toHaveLength(2);
    expect(res.body.results[0]).toMatchObject({ id: "h1", text: items[0].text, meta: { publish_date: "20030219" } });
    expect(res.body.results[0].score).toBeGreaterThan(res.body.results[1].score);
    for (const key of ["embed_ms", "search_ms", "total_ms"]) expect(typeof res.body.timings[key]).toBe("number");
    expect(res.headers.get("server-timing")).toMatch(/embed;dur=[\d.]+.*search;dur=[\d.]+.*total;dur=[\d.]+/);
  });

  it("POST /search answers single and batch forms", async () => {
    const single = await w.json("/search", post({ q: "football match", k: 1 }));
    expect(single.status).toBe(200);
    expect(single.body.results.map((r: { id: string }) => r.id)).toEqual(["h3"]);
    const batch = await w.json("/search", post({ queries: ["football match", "books and reading"], k: 1 }));
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ k: 1, index: { version: "flat1", items: 3 } });
    expect(batch.body.results.map((r: { results: Array<{ id: string }> }) => r.results[0].id)).toEqual(["h3", "h2"]);
    expect(batch.body.results[1]).toMatchObject({ query: "books and reading", k: 1, index: { version: "flat1" } });
    expect(typeof batch.body.timings.total_ms).toBe("number");
  });

  it("maps a missing shard to 503 shard_missing", async () => {
    const pointer = JSON.parse((await w.kv.get("current", "text"))!);
    const manifest = JSON.parse((await w.kv.get(pointer.manifestKey, "text"))!);
    const saved = (await w.kv.get(manifest.tempFlat.vectors.key, "arrayBuffer"))!;
    // A fresh worker on the same store, so no cached shard hides the deletion.
    const fresh = await startTestWorker();
    try {
      await fresh.kv.put(manifest.model.topology.key, (await w.kv.get(manifest.model.topology.key, "arrayBuffer"))!);
      await fresh.kv.put(manifest.model.weights.key, (await w.kv.get(manifest.model.weights.key, "arrayBuffer"))!);
      await fresh.kv.put(manifest.model.vocab.key, (await w.kv.get(manifest.model.vocab.key, "arrayBuffer"))!);
      await fresh.kv.put(manifest.tempFlat.items.key, (await w.kv.get(manifest.tempFlat.items.key, "arrayBuffer"))!);
      await publishManifest(fresh.kv, manifest);
      const res = await fresh.json("/search?q=rain");
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("shard_missing");
      await fresh.kv.put(manifest.tempFlat.vectors.key, saved.slice(0, 100));
      const corrupt = await fresh.json("/search?q=rain");
      expect(corrupt.status).toBe(503);
      expect(corrupt.body.error.code).toBe("shard_corrupt");
    } finally {
      await fresh.dispose();
    }
  });
});
