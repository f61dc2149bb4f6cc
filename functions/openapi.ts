// The API's contract, written once: the OpenAPI 3.1 document served at
// GET /v1/openapi.json. The code is checked against it, not generated from it:
// the Worker tests validate every response they receive against this document
// (test/helpers/openapi.ts), and test/api-contract.test.ts validates the
// document itself and checks that its error codes are the catalog's. Shapes
// here match the types of wire.ts; schemas are closed (additionalProperties:
// false) so that a field added to a response without being documented fails.
import { ERRORS, ERROR_CODES } from "./errors.ts";
import { EMBEDDING_DIM } from "../lib/model/embed.ts";
import { DEFAULT_K, MAX_K } from "./validate.ts";
import { ALIASES } from "./aliases.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const int = (description?: string, minimum = 0): Schema => ({ type: "integer", minimum, ...(description ? { description } : {}) });
const num = (description?: string): Schema => ({ type: "number", ...(description ? { description } : {}) });
const str = (description?: string): Schema => ({ type: "string", ...(description ? { description } : {}) });
function object(properties: Record<string, Schema>, required: string[] = Object.keys(properties), description?: string): Schema {
  return { type: "object", properties, required, additionalProperties: false, ...(description ? { description } : {}) };
}

/** Base64 of EMBEDDING_DIM float32: 4 characters per 3 bytes, padded. */
const BASE64_F32_CHARS = Math.ceil((EMBEDDING_DIM * 4) / 3) * 4;

const schemas: Record<string, Schema> = {
  Index: object({ version: str("The index version that answered."), items: int("Items it holds.") }),
  Hit: object(
    {
      id: str("The item's id from the corpus."),
      score: num("The ranking score: the cosine in semantic mode, BM25 in lexical mode, the fused score in hybrid mode."),
      scores: object(
        { semantic: num("The exact (int8-rescored) cosine of query and item."), lexical: { type: ["number", "null"], description: "The item's BM25 for the query; null in semantic mode." } },
        undefined,
        "Why the hit ranked.",
      ),
      text: str("The item's text."),
      meta: { type: "object", additionalProperties: { type: ["string", "number", "boolean", "null"] }, description: "The item's metadata columns." },
    },
    undefined,
    "One search hit.",
  ),
  FilterStats: object({
    plan: {
      enum: ["scan", "values", "cells", "probe"],
      description:
        '"scan": every item the filter can match was scored; "values": every item the filter can match in the query\'s nearest clusters; "cells": the matching items of the query\'s nearest clusters; "probe": the nearest leaves that can hold a match.',
    },
    estimate: int("Items the filter table says may match (an upper bound)."),
    scored: int("Entries scored."),
    matched: int("Of them, the ones that passed the filter."),
  }),
  SearchStats: object(
    {
      shards: int("Shards (or, for a scanned filter, column chunks) the query needed."),
      records: int("Item records re-ranked."),
      resident_records: int("Of those, the ones scored from the isolate's resident copy rather than read."),
      bytes: int("Bytes of index values the query needed (cache hits included)."),
      fetched_bytes: int("Bytes actually read from KV (cache misses only)."),
      round_trips: int("Sequential rounds that went to KV."),
      kv_ms: num("Milliseconds spent waiting for KV."),
      filter: ref("FilterStats"),
      lexical: object({
        terms: { type: "array", items: str(), description: "The query's terms as the tokenizer made them." },
        matched: { type: "array", items: str(), description: "Those the index holds." },
        parts: int("Lexicon parts read."),
        tails: int("Postings tails read."),
        postings: int("Postings scored."),
        candidates: int("Candidates re-scored both ways."),
      }),
    },
    ["shards", "records", "resident_records", "bytes", "fetched_bytes", "round_trips", "kv_ms"],
    "What one search cost in index terms.",
  ),
  Timings: object({ embed_ms: num(), search_ms: num(), compute_ms: num("search_ms less the waits on KV."), total_ms: num() }),
  Mode: { enum: ["semantic", "lexical", "hybrid"], description: "semantic: cosine of USE-lite embeddings; lexical: BM25; hybrid (the default): both, fused. A query by vector is semantic." },
  Fusion: { enum: ["score", "rrf"], description: "Hybrid's fusion: score (the default) weighs min-max-normalised cosine against BM25 over its best; rrf is reciprocal-rank fusion (k = 60)." },
  Filter: { type: "object", description: "Vectorize's operators ($eq $ne $in $nin $lt $lte $gt $gte) plus $or; GET /v1/fields lists the fields." },
  SearchResponse: object(
    {
      object: { const: "search" },
      query: { type: ["string", "null"], description: "The query text; null for a vector query." },
      k: int(undefined, 1),
      filter: ref("Filter"),
      mode: ref("Mode"),
      fusion: ref("Fusion"),
      reason: str("Why a lexical query found nothing (every word a stop word, or unknown to the index)."),
      results: { type: "array", items: ref("Hit") },
      index: ref("Index"),
      timings: ref("Timings"),
      stats: ref("SearchStats"),
    },
    ["object", "query", "k", "mode", "results", "index", "timings", "stats"],
    "One query's answer, best hit first.",
  ),
  BatchAnswer: object(
    {
      query: { type: ["string", "null"] },
      filter: ref("Filter"),
      mode: ref("Mode"),
      fusion: ref("Fusion"),
      reason: str("Why a lexical query found nothing (every word a stop word, or unknown to the index)."),
      results: { type: "array", items: ref("Hit") },
      timings: object({ search_ms: num(), compute_ms: num() }),
      stats: ref("SearchStats"),
    },
    ["query", "mode", "results", "timings", "stats"],
  ),
  BatchSearchResponse: object(
    {
      object: { const: "search.batch" },
      k: int(undefined, 1),
      index: ref("Index"),
      answers: { type: "array", items: ref("BatchAnswer"), description: "One answer per query, in the order sent." },
      timings: object({ embed_ms: num(), search_ms: num("Wall time of the batch's searches, which overlap."), total_ms: num() }),
    },
    undefined,
    "A batch's answer.",
  ),
  QueryVector: {
    description: `A query embedding made by this model: ${EMBEDDING_DIM} finite floats of unit norm, or base64 of ${EMBEDDING_DIM} little-endian float32 (what POST /v1/embeddings returns by default).`,
    oneOf: [{ type: "array", items: { type: "number" }, minItems: EMBEDDING_DIM, maxItems: EMBEDDING_DIM }, { type: "string", contentEncoding: "base64" }],
  },
  SearchRequest: object(
    {
      q: str("The query text."),
      vector: ref("QueryVector"),
      queries: {
        type: "array",
        minItems: 1,
        description: "A batch: query texts, or objects with their own filter (null opts out of the shared one).",
        items: {
          oneOf: [str(), object({ q: str(), vector: ref("QueryVector"), filter: { oneOf: [ref("Filter"), { type: "null" }] }, mode: ref("Mode"), fusion: ref("Fusion") }, [])],
        },
      },
      k: { type: "integer", minimum: 1, maximum: MAX_K, default: DEFAULT_K },
      filter: ref("Filter"),
      mode: ref("Mode"),
      fusion: ref("Fusion"),
    },
    [],
    "Exactly one of q, vector, queries.",
  ),
  EmbedRequest: object({ texts: { type: "array", items: str(), minItems: 1 } }),
  EmbedResponse: object({
    object: { const: "embed" },
    model: str("The served model's id."),
    dim: { const: EMBEDDING_DIM },
    vectors: { type: "array", items: { type: "array", items: { type: "number" }, minItems: EMBEDDING_DIM, maxItems: EMBEDDING_DIM } },
    usage: object({ tokens: int("Tokens the model's tokenizer counted.") }),
  }),
  EmbeddingsRequest: object(
    {
      input: { oneOf: [str(), { type: "array", items: str(), minItems: 1 }] },
      model: str("The served model's id, its release (`use-lite@0.2.0`) or its family (`use-lite`)."),
      encoding_format: { enum: ["float", "base64"], default: "float" },
      dimensions: { const: EMBEDDING_DIM },
      user: str("Accepted and ignored."),
    },
    ["input", "model"],
    "OpenAI's embeddings request.",
  ),
  EmbeddingsResponse: object(
    {
      object: { const: "list" },
      data: {
        type: "array",
        items: object({
          object: { const: "embedding" },
          index: int(),
          embedding: {
            oneOf: [
              { type: "array", items: { type: "number" }, minItems: EMBEDDING_DIM, maxItems: EMBEDDING_DIM },
              { type: "string", contentEncoding: "base64", pattern: "^[A-Za-z0-9+/]*={0,2}$", minLength: BASE64_F32_CHARS, maxLength: BASE64_F32_CHARS },
            ],
          },
        }),
      },
      model: str(),
      usage: object({ prompt_tokens: int(), total_tokens: int() }),
    },
    undefined,
    "OpenAI's embeddings response.",
  ),
  Field: object(
    {
      name: str(),
      type: { enum: ["string", "number", "date"] },
      min: { type: ["string", "number", "null"] },
      max: { type: ["string", "number", "null"] },
      distinct: int("Distinct values (string fields)."),
      values: { type: "array", items: str(), description: "The values, when at most 256." },
    },
    ["name", "type", "min", "max"],
  ),
  FieldsResponse: object({ object: { const: "fields" }, fields: { type: "array", items: ref("Field") }, index: ref("Index") }),
  ExamplesResponse: object({ object: { const: "examples" }, examples: { type: "array", items: str() }, index: ref("Index") }),
  HealthResponse: object(
    {
    status: { const: "ok" },
    version: str(),
    items: int(),
    model: str(),
    model_loads: int("Model loads this isolate started."),
    model_load_ms: num(),
    memory: object({ wasm_heap_bytes: int(), tensor_bytes: int() }),
    resident: object(
      {
        state: { enum: ["none", "off", "over_budget", "loading", "loaded", "failed"] },
        items: int(),
        bytes: int(),
        budget_bytes: int(),
        load_ms: num(),
        error: str(),
      },
      ["state"],
    ),
  },
    ["status", "version", "items", "model"],
    "Readiness; model_loads, model_load_ms, memory and resident only for admin keys (or PUBLIC_DIAGNOSTICS).",
  ),
  ErrorCode: { enum: ERROR_CODES, description: "The catalog of error codes (docs/api.md)." },
  Error: object({ error: object({ code: ref("ErrorCode"), message: { type: "string", minLength: 1 }, param: str("The offending input.") }, ["code", "message"]) }),
  BadRequestError: object({
    error: object({ code: ref("ErrorCode"), message: { type: "string", minLength: 1 }, param: { type: "string", minLength: 1, description: "The offending input, e.g. `q`, `queries[2].filter.$or[0]`, `body`." } }),
  }),
  OpenAIError: object({
    error: object({ message: { type: "string", minLength: 1 }, type: str("OpenAI's error type, from the status."), param: { type: ["string", "null"] }, code: ref("ErrorCode") }),
  }),
  OpenApiDocument: { type: "object", required: ["openapi", "info", "paths"] },
};

type Response = { description: string; headers?: Record<string, Json>; content?: Record<string, { schema: Schema }> };

const jsonBody = (schema: Schema) => ({ "application/json": { schema } });
const RETRY_AFTER = { description: "Seconds to wait before retrying.", schema: { type: "integer" } };

function errors(statuses: number[], envelope: "Error" | "OpenAIError" = "Error"): Record<string, Response> {
  const out: Record<string, Response> = {};
  for (const status of statuses) {
    const codes = ERROR_CODES.filter((c) => ERRORS[c].status === status);
    const schema = status === 400 && envelope === "Error" ? ref("BadRequestError") : ref(envelope);
    out[String(status)] = {
      description: codes.join(", "),
      ...(status === 429 ? { headers: { "Retry-After": { ...RETRY_AFTER, required: true } } } : status === 503 ? { headers: { "Retry-After": RETRY_AFTER } } : {}),
      content: jsonBody(schema),
    };
  }
  out.default = { description: "Any other error (405 method_not_allowed, 500 internal).", content: jsonBody(ref(envelope)) };
  return out;
}

const ok = (schema: string, description: string): Response => ({ description, content: jsonBody(ref(schema)) });
const SERVER_TIMING = { "Server-Timing": { description: "ready, embed, search and total durations in ms (local figures).", schema: { type: "string" } } };

const searchParams: Json[] = [
  { name: "q", in: "query", required: true, schema: { type: "string", minLength: 1 }, description: "The query text." },
  { name: "k", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: MAX_K, default: DEFAULT_K } },
  { name: "filter", in: "query", required: false, schema: { type: "string" }, description: "The filter as URL-encoded JSON." },
  { name: "mode", in: "query", required: false, schema: { $ref: "#/components/schemas/Mode" } },
  { name: "fusion", in: "query", required: false, schema: { $ref: "#/components/schemas/Fusion" } },
];

const v1Paths: Record<string, Record<string, Json>> = {
  "/v1/search": {
    get: {
      operationId: "searchGet",
      summary: "Search with a query text (cacheable).",
      parameters: searchParams,
      responses: { "200": { ...ok("SearchResponse", "The hits, best first."), headers: SERVER_TIMING }, ...errors([400, 403, 429, 503]) },
    },
    post: {
      operationId: "searchPost",
      summary: "Search with a text (`q`), a vector (`vector`) or a batch (`queries`).",
      requestBody: { required: true, content: jsonBody(ref("SearchRequest")) },
      responses: {
        "200": { description: "One answer, or a batch's answers.", headers: SERVER_TIMING, content: jsonBody({ oneOf: [ref("SearchResponse"), ref("BatchSearchResponse")] }) },
        ...errors([400, 403, 413, 429, 503]),
      },
    },
  },
  "/v1/embed": {
    post: {
      operationId: "embed",
      summary: "Embed texts with the index's model (the native shape).",
      requestBody: { required: true, content: jsonBody(ref("EmbedRequest")) },
      responses: { "200": { ...ok("EmbedResponse", "One unit vector per text, in order."), headers: SERVER_TIMING }, ...errors([400, 401, 403, 413, 429, 503]) },
    },
  },
  "/v1/embeddings": {
    post: {
      operationId: "createEmbeddings",
      summary: "OpenAI-compatible embeddings (point an OpenAI SDK's baseURL at /v1).",
      requestBody: { required: true, content: jsonBody(ref("EmbeddingsRequest")) },
      responses: { "200": ok("EmbeddingsResponse", "OpenAI's list of embeddings."), ...errors([400, 401, 403, 413, 429, 503], "OpenAIError") },
    },
  },
  "/v1/fields": {
    get: { operationId: "fields", summary: "The filterable fields of the serving index.", responses: { "200": ok("FieldsResponse", "Fields with their ranges and values."), ...errors([403, 503]) } },
  },
  "/v1/examples": {
    get: { operationId: "examples", summary: "Example queries drawn from the corpus at build time.", responses: { "200": ok("ExamplesResponse", "Example queries."), ...errors([503]) } },
  },
  "/v1/healthz": {
    get: { operationId: "healthz", summary: "Readiness: the serving version, its model, memory.", responses: { "200": ok("HealthResponse", "Ready."), ...errors([503]) } },
  },
  "/v1/openapi.json": {
    get: { operationId: "openapi", summary: "This document.", responses: { "200": ok("OpenApiDocument", "The OpenAPI 3.1 document."), ...errors([403]) } },
  },
};

/** The unversioned paths (worker.ts ALIASES): the same operations, deprecated, with the Deprecation header on every answer. */
const DEPRECATION_HEADERS = {
  Deprecation: { required: true, description: "RFC 9745: when the path was deprecated.", schema: { type: "string" } },
  Sunset: { required: true, description: "RFC 8594: when it stops answering.", schema: { type: "string" } },
  Link: { required: true, description: 'The successor path, rel="successor-version".', schema: { type: "string" } },
};

function deprecatedAlias(item: Record<string, Json>, successor: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [method, op] of Object.entries(item) as Array<[string, { [k: string]: Json }]>) {
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(op.responses as Record<string, Response>)) {
      responses[status] = { ...r, headers: { ...(r.headers ?? {}), ...DEPRECATION_HEADERS } } as unknown as Json;
    }
    out[method] = { ...op, operationId: `${String(op.operationId)}Deprecated`, deprecated: true, summary: `Deprecated alias of ${successor}.`, responses };
  }
  return out;
}

export const OPENAPI = {
  openapi: "3.1.0",
  jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
  info: {
    title: "Edge semantic search",
    version: "1.0.0",
    description: "Semantic search over one corpus, served from Cloudflare Workers. Errors: docs/api.md.",
    license: { name: "Apache-2.0", identifier: "Apache-2.0" },
  },
  servers: [{ url: "/" }],
  paths: {
    "/": { get: { operationId: "page", summary: "The search page.", responses: { "200": { description: "HTML.", content: { "text/html": { schema: { type: "string" } } } } } } },
    ...v1Paths,
    ...Object.fromEntries(Object.entries(ALIASES).map(([old, successor]) => [old, deprecatedAlias(v1Paths[successor], successor)])),
  },
  components: {
    schemas,
    securitySchemes: { embedToken: { type: "http", scheme: "bearer", description: "EMBED_TOKEN, when the deployment sets it (embedding routes only)." } },
  },
} as const satisfies Record<string, unknown>;
