// The clients the package exports (package.json `exports`), against the local
// Worker in workerd on the real index: the typed fetch client, the LangChain.js
// retriever, the read-only vector store and the index's embeddings. Imported by
// the package's own name, as a user would.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ApiError, SearchClient } from "edge-semantic-search/client";
import { EdgeSearchEmbeddings, EdgeSearchRetriever, EdgeSearchVectorStore, READ_ONLY_MESSAGE } from "edge-semantic-search/langchain";
import { Document } from "@langchain/core/documents";
import { post, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { SARS_HEADLINE } from "./helpers/index-fixture.ts";

describe("clients against the Worker", () => {
  const fixture = inject("indexFixture");
  let w: TestWorker;
  let client: SearchClient;
  /** Bodies the clients sent, to see options passed through. */
  const sent: unknown[] = [];
  beforeAll(async () => {
    w = await startTestWorker({ index: true });
    client = new SearchClient({
      baseUrl: w.url,
      fetch: (url, init) => {
        if (init?.body) sent.push(JSON.parse(String(init.body)));
        return w.fetch(url, init);
      },
    });
  });
  afterAll(async () => w?.dispose());

  it("the typed client covers every route and raises ApiError with code, param and Retry-After", async () => {
    const health = await client.health();
    expect(health).toMatchObject({ status: "ok", version: fixture.version, items: 2000 });
    // Semantic, as the vector searches below are.
    const answer = await client.search("sars outbreak in hong kong", { k: 5, mode: "semantic" });
    expect(answer.results).toHaveLength(5);
    expect(SARS_HEADLINE.test(answer.results[0].text)).toBe(true);
    const same = await w.json("/v1/search", post({ q: "sars outbreak in hong kong", k: 5, mode: "semantic" }));
    expect(answer.results).toEqual(same.body.results);
    const [vector] = (await client.embed(["sars outbreak in hong kong"])).vectors;
    expect((await client.searchVector(vector, { k: 5 })).results).toEqual(answer.results);
    expect((await client.searchVector(Float32Array.from(vector), { k: 5 })).results).toEqual(answer.results);
    const batch = await client.searchBatch(["rain", { q: "court", filter: null }, { vector }], { k: 2 });
    expect(batch.answers.map((a) => a.results.length)).toEqual([2, 2, 2]);
    expect((await client.fields()).fields.map((f) => f.name)).toContain("publish_date");
    expect((await client.examples()).examples.length).toBeGreaterThan(0);
    expect((await client.openapi()).openapi).toBe("3.1.0");
    const err = await client.search("x", { k: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: "invalid_k", param: "k", retryAfter: undefined });
    const down = new SearchClient({ baseUrl: w.url, fetch: async () => new Response(JSON.stringify({ error: { code: "index_unavailable", message: "m" } }), { status: 503, headers: { "Retry-After": "5" } }) });
    expect(await down.health().catch((e: unknown) => e)).toMatchObject({ status: 503, code: "index_unavailable", retryAfter: 5 });
  });

  it("the LangChain retriever returns the search's hits as documents, passing k, filter and mode through", async () => {
    const retriever = new EdgeSearchRetriever({ client, k: 4, filter: { publish_date: { $gte: "20030501" } } });
    const docs = await retriever.invoke("sars outbreak in hong kong");
    const direct = await w.json("/v1/search", post({ q: "sars outbreak in hong kong", k: 4, filter: { publish_date: { $gte: "20030501" } } }));
    expect(docs).toHaveLength(4);
    expect(docs.map((d) => d.pageContent)).toEqual(direct.body.results.map((h: { text: string }) => h.text));
    for (const d of docs) {
      expect(d).toBeInstanceOf(Document);
      expect(String(d.metadata.publish_date) >= "20030501").toBe(true);
      expect(typeof d.metadata.score).toBe("number");
      expect(d.id).toBe(d.metadata.id);
    }
    // A mode goes out as the API's `mode`, untouched.
    sent.length = 0;
    const moded = new EdgeSearchRetriever({ client, k: 3, mode: "hybrid" });
    await moded.invoke("rain").catch(() => undefined);
    expect(sent).toEqual([{ q: "rain", k: 3, mode: "hybrid" }]);
  });

  it("the vector store searches by vector with the index's embeddings, and refuses writes pointing to build and deploy", async () => {
    const store = new EdgeSearchVectorStore({ client });
    expect(store.embeddings).toBeInstanceOf(EdgeSearchEmbeddings);
    const byText = await w.json("/v1/search", post({ q: "drought hits farmers", k: 6, mode: "semantic" }));
    sent.length = 0;
    const scored = await store.similaritySearchWithScore("drought hits farmers", 6);
    expect(scored.map(([d]) => d.pageContent)).toEqual(byText.body.results.map((h: { text: string }) => h.text));
    scored.forEach(([, s], i) => expect(s).toBeCloseTo(byText.body.results[i].score, 6));
    // It went by vector: one /v1/embed, then /v1/search with `vector`.
    expect(sent.map((b) => Object.keys(b as object).sort().join())).toEqual(["texts", "k,vector"]);
    const filtered = await store.similaritySearch("drought hits farmers", 3, { publish_date: { $lt: "20030301" } });
    expect(filtered.length).toBeGreaterThan(0);
    for (const d of filtered) expect(String(d.metadata.publish_date) < "20030301").toBe(true);
    const retriever = store.asRetriever({ k: 2 });
    expect(await retriever.invoke("drought hits farmers")).toHaveLength(2);
    await expect(store.addDocuments([new Document({ pageContent: "new" })])).rejects.toThrow(READ_ONLY_MESSAGE);
    await expect(store.addDocuments([])).rejects.toThrow(/npm run build.*npm run deploy/);
    await expect(store.addVectors([[1]], [new Document({ pageContent: "x" })])).rejects.toThrow(/read-only/);
  });
});
