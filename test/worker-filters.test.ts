// Filters through HTTP on the real index (2,000 ABC headlines, publish_date
// filterable by default): GET /fields, GET and POST /search with filters checked
// against the Node search over the same artifacts, batches with shared and
// per-query filters, the edge cache keyed by filter, and every error a filter
// can cause, each with its exact status, code and path.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { evaluationQueries, fixtureTexts } from "./helpers/index-fixture.ts";
import { expectSameHits, post, suiteRealIndex, type Hit } from "./helpers/workerd-fixture.ts";

const MARCH = { publish_date: { $gte: "2003-03-01", $lt: "2003-04-01" } };
const inMarch = (h: Hit) => /^200303\d\d$/.test(String(h.meta.publish_date));

describe("filters through the Worker", () => {
  const fixture = inject("indexFixture");
  const ix = suiteRealIndex();
  let queries: string[];
  beforeAll(async () => {
    queries = evaluationQueries(await fixtureTexts(ix.engine)).slice(30, 50);
  });

  it("GET /fields lists the filterable fields with their ranges", async () => {
    const res = await ix.w.json("/v1/fields");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ object: "fields", fields: [{ name: "publish_date", type: "date", min: "2003-02-19", max: expect.stringMatching(/^2003-10-\d\d$/) }], index: { version: fixture.version, items: 2000 } });
  });

  it("GET /search?filter= returns only matching items, the same as the Node search", async () => {
    const q = "police investigate a fatal car crash";
    const res = await ix.w.json(`/v1/search?q=${encodeURIComponent(q)}&k=10&mode=semantic&filter=${encodeURIComponent(JSON.stringify(MARCH))}`);
    expect(res.status).toBe(200);
    expect(res.body.filter).toEqual(MARCH);
    const hits = res.body.results as Hit[];
    expect(hits).toHaveLength(10);
    expect(hits.filter(inMarch)).toHaveLength(10);
    const [v] = await ix.embedder.embed([q]);
    expectSameHits(hits, (await ix.engine.approximate(v, 10, { filter: ix.engine.compile(JSON.stringify(MARCH)) })).results, q);
    expect(res.body.stats.filter).toMatchObject({ plan: "scan" });
    // Without the filter the same query ranges over every month.
    const open = await ix.w.json(`/v1/search?q=${encodeURIComponent(q)}&k=10&mode=semantic`);
    expect((open.body.results as Hit[]).filter(inMarch).length).toBeLessThan(10);
  });

  it("POST batches take one filter for all queries or one per query, and agree with Node", async () => {
    const week = { publish_date: { $gte: "2003-03-01", $lt: "2003-03-08" } };
    const res = await ix.w.json("/v1/search", post({ k: 10, mode: "semantic", filter: MARCH, queries: [...queries.slice(0, 9), { q: queries[9], filter: week }, { q: queries[0], filter: null }] }));
    expect(res.status).toBe(200);
    const vectors = await ix.embedder.embed(queries.slice(0, 10));
    for (let i = 0; i < 10; i++) {
      const f = i === 9 ? week : MARCH;
      const answer = res.body.answers[i];
      expect(answer.filter).toEqual(f);
      const node = (await ix.engine.approximate(vectors[i], 10, { filter: ix.engine.compile(JSON.stringify(f)) })).results;
      expectSameHits(answer.results, node, `query ${i}`);
      for (const h of answer.results as Hit[]) expect(inMarch(h)).toBe(true);
    }
    // "filter": null opts a query out of the shared filter: the unfiltered answer.
    expect(res.body.answers[10].filter).toBeUndefined();
    expectSameHits(res.body.answers[10].results, (await ix.engine.approximate(vectors[0], 10)).results, "opted out");
    // The first week of March holds 58 of the slice's headlines.
    expect(res.body.answers[9].results).toHaveLength(10);
    for (const h of res.body.answers[9].results as Hit[]) expect(String(h.meta.publish_date) < "20030308").toBe(true);
  });

  it("a filter matching fewer than k items returns exactly those, without error", async () => {
    const res = await ix.w.json("/v1/search", post({ q: "news", k: 50, mode: "semantic", filter: { publish_date: "2003-03-01" } }));
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(7);
    for (const h of res.body.results as Hit[]) expect(h.meta.publish_date).toBe("20030301");
  });

  it("the edge cache keys GET answers by filter", async () => {
    const base = `/v1/search?q=${encodeURIComponent("rain at last for farmers")}&k=5`;
    const f = (x: unknown) => `${base}&filter=${encodeURIComponent(JSON.stringify(x))}`;
    const first = await ix.w.json(f(MARCH));
    expect(first.status).toBe(200);
    const again = await ix.w.json(f(MARCH));
    expect(again.headers.get("x-search-cache")).toBe("hit");
    expect(again.body.results).toEqual(first.body.results);
    const other = await ix.w.json(f({ publish_date: { $gte: "2003-08-01" } }));
    expect(other.headers.get("x-search-cache")).toBeNull();
    for (const h of other.body.results as Hit[]) expect(String(h.meta.publish_date) >= "20030801").toBe(true);
  });

  const ERRORS: Array<{ name: string; send: () => [string, RequestInit?]; code: string; message: RegExp }> = [
    { name: "unknown field", send: () => ["/v1/search", post({ q: "x", filter: { source: "abc" } })], code: "unknown_filter_field", message: /^filter\.source: .*publish_date/ },
    { name: "bad operator", send: () => ["/v1/search", post({ q: "x", filter: { publish_date: { $after: "2003-01-01" } } })], code: "invalid_filter", message: /^filter\.publish_date\.\$after: / },
    { name: "not a date", send: () => ["/v1/search", post({ q: "x", filter: { publish_date: { $gte: "March" } } })], code: "invalid_filter", message: /^filter\.publish_date\.\$gte: / },
    { name: "bad $or", send: () => ["/v1/search", post({ q: "x", filter: { $or: [] } })], code: "invalid_filter", message: /^filter\.\$or: / },
    { name: "per-query path", send: () => ["/v1/search", post({ queries: ["a", { q: "b", filter: { publish_date: { $in: "x" } } }] })], code: "invalid_filter", message: /^queries\[1\]\.filter\.publish_date\.\$in: / },
    { name: "over 2 KB", send: () => ["/v1/search", post({ q: "x", filter: { publish_date: { $in: Array.from({ length: 200 }, () => "2003-03-01") } } })], code: "filter_too_large", message: /2048/ },
    { name: "GET not JSON", send: () => [`/v1/search?q=x&filter=${encodeURIComponent("{publish_date:")}`], code: "invalid_filter", message: /not valid JSON/ },
    { name: "GET over 2 KB", send: () => [`/v1/search?q=x&filter=${encodeURIComponent(JSON.stringify({ publish_date: { $nin: Array.from({ length: 300 }, () => "2003-03-01") } }))}`], code: "filter_too_large", message: /2048/ },
  ];
  for (const e of ERRORS) {
    it(`${e.name} → 400 ${e.code}`, async () => {
      const [path, init] = e.send();
      const res = await ix.w.json(path, init);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(e.code);
      expect(res.body.error.message).toMatch(e.message);
    });
  }

  it("16 evaluation queries with a one-month filter reach recall@10 ≥ 0.95 against exact filtered search", async () => {
    const all = evaluationQueries(await fixtureTexts(ix.engine));
    const filter = ix.engine.compile(JSON.stringify(MARCH));
    const res = await ix.w.json("/v1/search", post({ k: 10, mode: "semantic", filter: MARCH, queries: all.slice(0, 16) }));
    expect(res.status).toBe(200);
    const vectors = await ix.embedder.embed(all.slice(0, 16));
    let found = 0;
    let expected = 0;
    for (let i = 0; i < 16; i++) {
      const truth = new Set((await ix.engine.exact(vectors[i], 10, filter)).results.map((h) => h.id));
      expected += truth.size;
      found += (res.body.answers[i].results as Hit[]).filter((h) => truth.has(h.id)).length;
    }
    expect(found / expected).toBeGreaterThanOrEqual(0.95);
  });
});
