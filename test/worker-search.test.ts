// Search through workerd over HTTP on a real index (2,000 ABC headlines of 2003,
// built by runBuild and published to the Worker's local KV by the global setup):
// semantic sanity, recall against exact search, parity with the Node-side search
// over the same artifacts, batches, limits with the deployed defaults, /healthz.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SARS_HEADLINE, evaluationQueries, fixtureTexts } from "./helpers/index-fixture.ts";
import { PROBE_SPREAD } from "../lib/index/leaves.ts";
import { expectSameHits, post, suiteRealIndex, type Hit } from "./helpers/workerd-fixture.ts";

describe("search on the real index", () => {
  const fixture = inject("indexFixture");
  const ix = suiteRealIndex();
  let texts: string[];
  beforeAll(async () => {
    texts = await fixtureTexts(ix.engine);
  });

  it("the fixture is the 2,000-headline subset spanning Feb–Oct 2003, SARS news included", () => {
    expect(fixture.items).toBe(2000);
    expect(texts).toHaveLength(2000);
    expect(texts.filter((t) => /\bsars\b/.test(t)).length).toBeGreaterThanOrEqual(8);
    expect(texts.filter((t) => SARS_HEADLINE.test(t)).length).toBeGreaterThanOrEqual(12);
  });

  it("/v1/healthz reports the published version, its items and the model", async () => {
    const res = await ix.w.json("/v1/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "ok", version: fixture.version, items: 2000, model: ix.w.manifest!.model.id });
    expect(res.body.model).toBe(ix.embedder.modelId);
  });

  it("a query about SARS returns SARS headlines first", async () => {
    for (const q of ["new sars cases reported in hong kong", "sars pneumonia outbreak in asia"]) {
      const res = await ix.w.json(`/v1/search?q=${encodeURIComponent(q)}&k=10&mode=semantic`);
      expect(res.status).toBe(200);
      const hits = res.body.results as Hit[];
      expect(hits).toHaveLength(10);
      const flags = hits.map((h) => SARS_HEADLINE.test(h.text));
      // 13 of 2,000 headlines are about SARS: by chance the top 10 would hold none.
      expect(flags.slice(0, 2), `${q}: ${hits.map((h) => h.text).join(" | ")}`).toEqual([true, true]);
      expect(flags.filter(Boolean).length, q).toBeGreaterThanOrEqual(4);
      for (const h of hits.filter((x) => SARS_HEADLINE.test(x.text))) expect(String(h.meta.publish_date)).toMatch(/^20030[3-8]\d\d$/);
    }
    // And an unrelated query does not: the check above is about meaning, not a constant answer.
    const other = await ix.w.json(`/v1/search?q=${encodeURIComponent("cricket test match")}&k=10&mode=semantic`);
    expect((other.body.results as Hit[]).filter((h) => SARS_HEADLINE.test(h.text))).toEqual([]);
  });

  it("GET /v1/search returns k ranked hits with text, metadata, timings and stats", async () => {
    const res = await ix.w.json("/v1/search?q=drought%20hits%20farmers&k=7&mode=semantic");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ query: "drought hits farmers", k: 7, index: { version: fixture.version, items: 2000 } });
    const hits = res.body.results as Hit[];
    expect(hits).toHaveLength(7);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1].score).toBeGreaterThanOrEqual(hits[i].score);
    for (const h of hits) {
      expect(texts[Number(h.id)]).toBe(h.text);
      expect(h.meta).toEqual({ publish_date: expect.stringMatching(/^2003\d{4}$/) });
    }
    expect(hits.some((h) => /drought/.test(h.text))).toBe(true);
    for (const key of ["embed_ms", "search_ms", "compute_ms", "total_ms"]) expect(typeof res.body.timings[key]).toBe("number");
    // The search's own CPU: its time less its waits on KV.
    expect(res.body.timings.compute_ms).toBeCloseTo(res.body.timings.search_ms - res.body.stats.kv_ms, 1);
    // Round 1 probes nprobe leaves, more when they score alike (lib/index/leaves.ts).
    expect(res.body.stats.shards).toBeGreaterThanOrEqual(ix.w.manifest!.params.nprobe);
    expect(res.body.stats.shards).toBeLessThanOrEqual(PROBE_SPREAD * ix.w.manifest!.params.nprobe);
    // Round 2's depth follows the PQ scores (lib/index/rerank-depth.ts): 2k to rerank records.
    expect(res.body.stats.records).toBeGreaterThanOrEqual(2 * 7);
    expect(res.body.stats.records).toBeLessThanOrEqual(ix.w.manifest!.params.rerank);
    expect(res.headers.get("server-timing")).toMatch(/embed;dur=[\d.]+.*search;dur=[\d.]+.*total;dur=[\d.]+/);
  });

  it("on 50 fixed queries: recall@10 >= 0.95 against exact search, and the same hits as the Node search", async () => {
    const queries = evaluationQueries(texts);
    expect(new Set(queries).size).toBe(50);
    const workerHits: Hit[][] = [];
    for (let i = 0; i < queries.length; i += 10) {
      const batch = queries.slice(i, i + 10);
      const res = await ix.w.json("/v1/search", post({ queries: batch, k: 10, mode: "semantic" }));
      expect(res.status).toBe(200);
      expect(res.body.answers.map((r: { query: string }) => r.query)).toEqual(batch);
      workerHits.push(...res.body.answers.map((r: { results: Hit[] }) => r.results));
    }
    const vectors = await ix.embedder.embed(queries);
    let hits = 0;
    let identical = 0;
    for (let i = 0; i < queries.length; i++) {
      const exact = (await ix.engine.exact(vectors[i], 10)).results;
      const approx = (await ix.engine.approximate(vectors[i], 10)).results;
      const truth = new Set(exact.map((h) => h.id));
      hits += workerHits[i].filter((h) => truth.has(h.id)).length;
      expectSameHits(workerHits[i], approx, `query ${i} "${queries[i]}"`);
      if (workerHits[i].map((h) => h.id).join() === approx.map((h) => h.id).join()) identical++;
    }
    const recall = hits / (queries.length * 10);
    console.log(`worker recall@10 vs exact on ${queries.length} queries: ${recall.toFixed(3)}; identical id lists: ${identical}/${queries.length}`);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    expect(identical).toBeGreaterThanOrEqual(48);
  });

  it("POST /v1/search answers a batch with one answer per query, in order", async () => {
    const queries = Array.from({ length: 16 }, (_, i) => `${["rain", "court", "election", "football"][i % 4]} news ${i}`);
    const res = await ix.w.json("/v1/search", post({ queries, k: 3, mode: "semantic" }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: "search.batch", k: 3, index: { version: fixture.version, items: 2000 } });
    expect(res.body.answers).toHaveLength(16);
    res.body.answers.forEach((r: { query: string; results: Hit[] }, i: number) => {
      expect(r.query).toBe(queries[i]);
      expect(r.results).toHaveLength(3);
    });
    expect(typeof res.body.timings.total_ms).toBe("number");
    // A single POST equals the same query's entry in a batch.
    const single = await ix.w.json("/v1/search", post({ q: queries[5], k: 3, mode: "semantic" }));
    expect(single.body.results.map((h: Hit) => h.id)).toEqual(res.body.answers[5].results.map((h: Hit) => h.id));
  });

  it("enforces the deployed limits: 1,000 characters per query, 16 queries per batch", async () => {
    const long = await ix.w.json("/v1/search", post({ q: "a ".repeat(500) + "b" }));
    expect(long.status).toBe(400);
    expect(long.body.error.code).toBe("query_too_long");
    const get = await ix.w.json(`/v1/search?q=${"x".repeat(1001)}`);
    expect(get.status).toBe(400);
    expect(get.body.error.code).toBe("query_too_long");
    const atLimit = await ix.w.json("/v1/search", post({ q: "rain ".repeat(200), k: 1 }));
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.results).toHaveLength(1);
    const batch = await ix.w.json("/v1/search", post({ queries: Array(17).fill("rain") }));
    expect(batch.status).toBe(400);
    expect(batch.body.error.code).toBe("batch_too_large");
  });
});
