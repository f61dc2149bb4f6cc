// The /v1 contract on the real index (every response is also validated against
// the OpenAPI document by the fixture): the routes and their shapes, search by
// vector, the batch shape, `param` on 400s, the deprecated aliases, the debug
// surface gone, and POST /v1/embeddings through the real `openai` client.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import OpenAI from "openai";
import { Validator } from "@seriousme/openapi-schema-validator";
import { post, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { prepareModel } from "../scripts/builder/embedding/node-model.ts";
import { UseTokenizer } from "../lib/model/tokenizer.ts";
import { validatedResponses } from "./helpers/openapi.ts";
import { ERRORS } from "../functions/errors.ts";
import { float32Base64 } from "../functions/validate.ts";

type Hit = { id: string; score: number; text: string; meta: Record<string, unknown> };

function expectError(res: { status: number; body: any }, code: keyof typeof ERRORS, param?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(ERRORS[code].status);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.message.length).toBeGreaterThan(0);
  if (param !== undefined) expect(res.body.error.param).toBe(param);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("/v1 on the real index", () => {
  const fixture = inject("indexFixture");
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker({ index: true });
  });
  afterAll(async () => {
    await w?.dispose();
    console.log(`[openapi] this file validated ${validatedResponses()} responses`);
  });

  it("serves an OpenAPI 3.1 document that a real validator accepts, listing every route", async () => {
    const res = await w.json("/v1/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    for (const p of ["/v1/search", "/v1/embed", "/v1/embeddings", "/v1/fields", "/v1/examples", "/v1/healthz", "/v1/openapi.json"]) expect(res.body.paths[p]).toBeDefined();
    for (const p of ["/search", "/embed", "/fields", "/examples", "/healthz"]) expect(Object.values(res.body.paths[p]).every((op: any) => op.deprecated === true)).toBe(true);
    expect(res.body.components.schemas.ErrorCode.enum.sort()).toEqual(Object.keys(ERRORS).sort());
  });

  it("GET and POST /v1/search answer in snake_case with the wire stats", async () => {
    const get = await w.json("/v1/search?q=drought%20hits%20farmers&k=5&mode=semantic");
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({ object: "search", query: "drought hits farmers", k: 5, index: { version: fixture.version, items: 2000 } });
    expect(get.body.results).toHaveLength(5);
    expect(Object.keys(get.body.stats).sort()).toEqual(["bytes", "fetched_bytes", "kv_ms", "records", "resident_records", "round_trips", "shards"]);
    expect(get.body.stats.round_trips).toBeGreaterThanOrEqual(1);
    expect(get.body.timings.compute_ms).toBeCloseTo(get.body.timings.search_ms - get.body.stats.kv_ms, 1);
    const p = await w.json("/v1/search", post({ q: "drought hits farmers", k: 5, mode: "semantic" }));
    expect(p.body.results.map((h: Hit) => h.id)).toEqual(get.body.results.map((h: Hit) => h.id));
    // No debug surface: no model-load header, and ?exact is not a switch.
    expect(get.headers.get("x-model-loads")).toBeNull();
    const exact = await w.json("/v1/search?q=drought%20hits%20farmers&k=5&exact=1");
    expect(exact.body.stats.records).toBeLessThan(2000);
    expect((await w.json("/test/exact-search?q=drought")).status).toBe(404);
  });

  it("a batch answers in its own shape: answers[i], no results[i].results", async () => {
    const queries = ["rain in the west", { q: "court case", filter: null }, "election results"];
    const res = await w.json("/v1/search", post({ queries, k: 3 }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: "search.batch", k: 3, index: { version: fixture.version, items: 2000 } });
    expect(res.body.results).toBeUndefined();
    expect(res.body.answers.map((a: { query: string }) => a.query)).toEqual(["rain in the west", "court case", "election results"]);
    for (const a of res.body.answers) expect(a.results).toHaveLength(3);
    const single = await w.json("/v1/search", post({ q: "court case", k: 3 }));
    expect(single.body.results).toEqual(res.body.answers[1].results);
  });

  it("searches by vector: a JSON array or base64 float32 from /v1/embed gives the text query's hits", async () => {
    const q = "sars outbreak in hong kong";
    const emb = await w.json("/v1/embed", post({ texts: [q] }));
    const vector: number[] = emb.body.vectors[0];
    // A vector query is semantic: the text query it must equal is asked in that mode.
    const byText = await w.json("/v1/search", post({ q, k: 10, mode: "semantic" }));
    const byArray = await w.json("/v1/search", post({ vector, k: 10 }));
    const byBase64 = await w.json("/v1/search", post({ vector: float32Base64(Float32Array.from(vector)), k: 10 }));
    expect(byArray.status).toBe(200);
    expect(byArray.body.query).toBeNull();
    expect(byArray.body.timings.embed_ms).toBe(0);
    expect(byArray.body.results).toEqual(byText.body.results);
    expect(byBase64.body.results).toEqual(byText.body.results);
    // In a batch too, beside a text query, with a filter.
    const batch = await w.json("/v1/search", post({ queries: [{ vector }, { q, mode: "semantic" }], k: 10 }));
    expect(batch.body.answers[0].results).toEqual(batch.body.answers[1].results);
  });

  it("checks a query vector's length, finiteness, norm and encoding, naming the input", async () => {
    const unit = new Array(512).fill(0);
    unit[0] = 1;
    expectError(await w.json("/v1/search", post({ vector: unit.slice(0, 511) })), "invalid_vector", "vector");
    expectError(await w.json("/v1/search", post({ vector: [...unit, 0] })), "invalid_vector", "vector");
    expectError(await w.json("/v1/search", post({ vector: unit.map((x, i) => (i === 7 ? "0" : x)) })), "invalid_vector", "vector[7]");
    expectError(await w.json("/v1/search", post({ vector: unit.map((x) => x * 2) })), "invalid_vector", "vector");
    expectError(await w.json("/v1/search", post({ vector: new Array(512).fill(0) })), "invalid_vector", "vector");
    const inf = new Float32Array(512);
    inf[3] = Infinity;
    expectError(await w.json("/v1/search", post({ vector: float32Base64(inf) })), "invalid_vector", "vector[3]");
    expectError(await w.json("/v1/search", post({ vector: float32Base64(new Float32Array(256).fill(1 / 16)) })), "invalid_vector", "vector");
    expectError(await w.json("/v1/search", post({ vector: "not base64!" })), "invalid_vector", "vector");
    expectError(await w.json("/v1/search", post({ vector: { x: 1 } })), "invalid_vector", "vector");
    expectError(await w.json("/v1/search", post({ q: "a", vector: unit })), "invalid_body", "vector");
    expectError(await w.json("/v1/search", post({ queries: [{ vector: unit.slice(1) }] })), "invalid_vector", "queries[0].vector");
    expect((await w.json("/v1/search", post({ vector: unit, k: 1 }))).status).toBe(200);
  });

  it("names the offending input on every 400", async () => {
    expectError(await w.json("/v1/search"), "missing_query", "q");
    expectError(await w.json("/v1/search?q=a&k=0"), "invalid_k", "k");
    expectError(await w.json("/v1/search?q=a&filter=%7Bx"), "invalid_filter", "filter");
    expectError(await w.json("/v1/search", post({ q: "a", filter: { nope: 1 } })), "unknown_filter_field", "filter.nope");
    expectError(await w.json("/v1/search", post({ queries: ["a", { q: "b", filter: { nope: { $eq: 1 } } }] })), "unknown_filter_field", "queries[1].filter.nope");
    expectError(await w.json("/v1/search", post({ q: "a", qq: 1 })), "invalid_body", "qq");
    expectError(await w.json("/v1/search", post({ queries: [{ q: "a", k: 2 }] })), "invalid_body", "queries[0].k");
    expectError(await w.json("/v1/search", post("{oops")), "invalid_json", "body");
    expectError(await w.json("/v1/embed", post({ texts: ["ok", 5] })), "invalid_query", "texts[1]");
    expectError(await w.json("/v1/search", post({ queries: Array(16).fill("y ".repeat(499)) })), "too_many_tokens", "queries");
  });

  it("fields, examples, healthz and embed answer on /v1 in their own shapes", async () => {
    const fields = await w.json("/v1/fields");
    expect(fields.body).toMatchObject({ object: "fields", index: { version: fixture.version } });
    expect(fields.body.fields.map((f: { name: string }) => f.name)).toContain("publish_date");
    const ex = await w.json("/v1/examples");
    expect(ex.body.object).toBe("examples");
    expect(ex.body.examples.length).toBeGreaterThan(0);
    const health = await w.json("/v1/healthz");
    expect(health.body).toMatchObject({ status: "ok", version: fixture.version, items: 2000 });
    const emb = await w.json("/v1/embed", post({ texts: ["one", "two words"] }));
    expect(emb.body).toMatchObject({ object: "embed", dim: 512, model: health.body.model });
    expect(emb.body.usage.tokens).toBeGreaterThanOrEqual(3);
  });

  it("keeps the unversioned paths as deprecated aliases of /v1", async () => {
    for (const [old, v1] of [
      ["/search?q=rain&k=3", "/v1/search?q=rain&k=3"],
      ["/fields", "/v1/fields"],
      ["/examples", "/v1/examples"],
    ]) {
      const a = await w.json(old);
      const b = await w.json(v1);
      expect(a.status).toBe(200);
      expect(a.headers.get("deprecation")).toMatch(/^@\d+$/);
      expect(a.headers.get("sunset")).toMatch(/GMT$/);
      expect(a.headers.get("link")).toBe(`<${v1.split("?")[0]}>; rel="successor-version"`);
      expect(b.headers.get("deprecation")).toBeNull();
      if (old.startsWith("/search")) expect(a.body.results).toEqual(b.body.results);
      else expect(a.body).toEqual(b.body);
    }
    const emb = await w.json("/embed", post({ texts: ["x"] }));
    expect(emb.status).toBe(200);
    expect(emb.headers.get("deprecation")).toMatch(/^@\d+$/);
    const health = await w.json("/healthz");
    expect(health.headers.get("deprecation")).toMatch(/^@\d+$/);
    // Errors on an alias carry the header too.
    const bad = await w.json("/search");
    expectError(bad, "missing_query", "q");
    expect(bad.headers.get("deprecation")).toMatch(/^@\d+$/);
  });
});

describe("POST /v1/embeddings with the openai client", () => {
  let w: TestWorker;
  let client: OpenAI;
  let modelId: string;
  beforeAll(async () => {
    // The SDK always sends a bearer key, so the Worker is given one (EMBED_TOKEN is read as a key with the embed scope).
    w = await startTestWorker({ seedModel: true, vars: { EMBED_TOKEN: "local" } });
    modelId = w.model!.id;
    // The SDK talks to the local Worker like to OpenAI: baseURL …/v1, any key (no EMBED_TOKEN set).
    client = new OpenAI({ baseURL: new URL("/v1", w.url).href, apiKey: "local", maxRetries: 0, fetch: (url: any, init: any) => w.fetch(String(url), init) });
  });
  afterAll(async () => w?.dispose());

  const texts = ["How do I bake sourdough bread?", "drought hits farmers in the north", "Ünïcödé text — with emoji 🚀"];

  it("its default call (base64) and encoding_format float both return /v1/embed's vectors within 1e-6", async () => {
    const native = await w.json("/v1/embed", post({ texts }));
    const byDefault = await client.embeddings.create({ model: modelId, input: texts });
    const asFloat = await client.embeddings.create({ model: modelId, input: texts, encoding_format: "float" });
    let worst = 0;
    for (const r of [byDefault, asFloat]) {
      expect(r.object).toBe("list");
      expect(r.model).toBe(modelId);
      expect(r.data.map((d) => d.index)).toEqual([0, 1, 2]);
      r.data.forEach((d, i) => (worst = Math.max(worst, maxAbsDiff(d.embedding, native.body.vectors[i]))));
      expect(r.usage).toEqual({ prompt_tokens: native.body.usage.tokens, total_tokens: native.body.usage.tokens });
    }
    console.log(`openai client vs /v1/embed: max |difference| ${worst}`);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it("honours base64 on the wire, takes a string input, and counts tokens with the model's tokenizer", async () => {
    const raw = await w.json("/v1/embeddings", post({ model: modelId, input: texts[1], encoding_format: "base64" }));
    expect(typeof raw.body.data[0].embedding).toBe("string");
    const bytes = Buffer.from(raw.body.data[0].embedding, "base64");
    expect(bytes.byteLength).toBe(2048);
    const asFloat = await w.json("/v1/embeddings", post({ model: modelId, input: texts[1] }));
    expect(asFloat.body.data[0].embedding).toHaveLength(512);
    const decoded = Array.from({ length: 512 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(maxAbsDiff(decoded, asFloat.body.data[0].embedding)).toBe(0);
    const tokenizer = new UseTokenizer((await prepareModel()).vocabulary);
    const expected = texts.reduce((n, t) => n + tokenizer.encode(t).length, 0);
    const all = await w.json("/v1/embeddings", post({ model: modelId, input: texts }));
    expect(all.body.usage).toEqual({ prompt_tokens: expected, total_tokens: expected });
    // The release and the family name the same model.
    for (const name of [modelId.split("/")[0], "use-lite"]) expect((await w.json("/v1/embeddings", post({ model: name, input: "x" }))).status).toBe(200);
  });

  it("answers errors in OpenAI's envelope, which the client raises as its own error classes", async () => {
    const cases: Array<[Record<string, unknown>, string, string | null, number]> = [
      [{ model: modelId, input: "x", dimensions: 256 }, "unsupported_dimensions", "dimensions", 400],
      [{ model: "text-embedding-3-small", input: "x" }, "unknown_model", "model", 400],
      [{ model: modelId, input: "x", encoding_format: "int8" }, "invalid_encoding_format", "encoding_format", 400],
      [{ model: modelId, input: [] }, "invalid_body", "input", 400],
      [{ model: modelId, input: ["ok", " "] }, "empty_query", "input[1]", 400],
      [{ model: modelId, input: [1, 2, 3] }, "invalid_query", "input[0]", 400],
    ];
    for (const [body, code, param, status] of cases) {
      const raw = await w.json("/v1/embeddings", post(body));
      expect(raw.status).toBe(status);
      expect(raw.body).toEqual({ error: { message: expect.any(String), type: "invalid_request_error", param, code } });
    }
    const err = await client.embeddings.create({ model: modelId, input: "x", dimensions: 256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("unsupported_dimensions");
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("dimensions");
    const notAllowed = await w.json("/v1/embeddings");
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.body.error).toMatchObject({ type: "invalid_request_error", code: "method_not_allowed", param: null });
  });
});

describe("/v1/embeddings behind EMBED_TOKEN", () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker({ seedModel: true, vars: { EMBED_TOKEN: "s3cret" } });
  });
  afterAll(async () => w?.dispose());

  it("the client's apiKey is the bearer token", async () => {
    const make = (apiKey: string) => new OpenAI({ baseURL: new URL("/v1", w.url).href, apiKey, maxRetries: 0, fetch: (url: any, init: any) => w.fetch(String(url), init) });
    const denied = await make("wrong").embeddings.create({ model: "use-lite", input: "x" }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    const ok = await make("s3cret").embeddings.create({ model: "use-lite", input: "x" });
    expect(ok.data[0].embedding).toHaveLength(512);
  });
});
