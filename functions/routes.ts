// The API handlers (the /v1 contract: functions/openapi.ts, docs/api.md). Each
// returns a Response or throws HttpError / a coded error; worker.ts turns throws
// into the error envelope. Bodies are built as the types of wire.ts, never as
// lib's internals.
import { readConfig, type Config, type Env } from "./config.ts";
import { HttpError, errorResponse, json, round, serverTiming, toHttpError } from "./http.ts";
import { currentIndex, type IndexVersion } from "./index-state.ts";
import { getModel, modelLoadsStarted, retainOnlyModel, type LoadedModel } from "./model.ts";
import { indexAdapter, isolateCache, semanticOutcome, type SearchOutcome } from "./search-adapter.ts";
import { modeRequest, type ModeRequest } from "./search-mode.ts";
import type { ModeResult } from "../lib/lexical/hybrid.ts";
import { tensorBytes, wasmMemoryBytes } from "./tf-wasm.ts";
import { float32Base64, modelNames, parseEmbedBody, parseEmbeddingsBody, parseK, parseQuery, parseSearchBody, readJsonObject, type QuerySpec } from "./validate.ts";
import { compileRequestFilter, filterFromParam } from "./filter-request.ts";
import { describeFields } from "./fields.ts";
import { ensureResident, residentStatus } from "./resident-load.ts";
import { charge, identify, queryUnits, requireScope, tokenUnits, type Caller } from "./access.ts";
import { cacheControl, cachedAnswer, searchCacheKey, storeAnswer } from "./search-cache.ts";
import type { CompiledFilter } from "../lib/filter/compile.ts";
import type { IndexHandle } from "../lib/index/reader.ts";
import { wireHit, wireStats, type BatchSearchResponse, type EmbeddingsResponse, type EmbedResponse, type ExamplesResponse, type FieldsResponse, type HealthResponse, type SearchResponse, type WireIndex } from "./wire.ts";

interface Ready {
  index: IndexVersion;
  model: LoadedModel;
}

/** One query as the searcher sees it: its text (null for a vector query) and its vector. */
export interface SearchQuery {
  text: string | null;
  vector: Float32Array;
}

/** How a query is searched: the index in its mode (production), or a test-only brute force (functions/test-entry.ts). */
export type Searcher = (handle: IndexHandle | null, query: SearchQuery, k: number, filter: CompiledFilter | null, search: ModeRequest) => Promise<ModeResult>;

/** A vector-only search (e.g. exact-search.ts) as a Searcher: semantic mode, whatever the request asked. */
export function vectorSearcher(search: (h: IndexHandle | null, v: Float32Array, k: number, f: CompiledFilter | null) => Promise<SearchOutcome>): Searcher {
  return async (h, q, k, f) => semanticOutcome(await search(h, q.vector, k, f));
}

const indexSearch: Searcher = async (h, q, k, f, search) => {
  if (q.text !== null) return indexAdapter.query(h, q.text, q.vector, k, f, search);
  // A vector has no words for the lexical index to match.
  if (search.mode !== undefined && search.mode !== "semantic") {
    throw new HttpError("invalid_mode", `a query by vector has no words to match: "mode" must be "semantic", not "${search.mode}"`, { param: "mode" });
  }
  return semanticOutcome(await indexAdapter.search(h, q.vector, k, f));
};

function versionHooks(env: Env, config: Config) {
  return {
    cache: isolateCache(config),
    prepare: async (v: IndexVersion) => void (await getModel(env.INDEX, v.manifest.model)),
    adopted: (v: IndexVersion) => retainOnlyModel(v.manifest.model),
  };
}

async function activeIndex(env: Env, config: Config, ctx: ExecutionContext): Promise<IndexVersion> {
  const index = await currentIndex(env.INDEX, config.pointerTtlMs, versionHooks(env, config), (p) => ctx.waitUntil(p));
  ensureResident(index.handle, config, (p) => ctx.waitUntil(p));
  return index;
}

async function ready(env: Env, config: Config, ctx: ExecutionContext): Promise<Ready> {
  const index = await activeIndex(env, config, ctx);
  const model = await getModel(env.INDEX, index.manifest.model);
  return { index, model };
}

function wireIndex(index: IndexVersion): WireIndex {
  return { version: index.version, items: index.items };
}

/**
 * The model's work per request is bounded by tokens, whatever the mix of texts
 * and lengths: each text is encoded once, here, counting stops at the cap, and
 * these very tokens are embedded.
 */
function tokenize(model: LoadedModel, texts: readonly string[], cap: number, param: string): number[][] {
  const t = model.tokenize(texts, cap);
  if (!t.ok) throw new HttpError("too_many_tokens", `the texts of one request may hold at most ${cap} tokens; these hold more`, { param });
  return t.encodings;
}

/**
 * A search-type request's caller: identified, holding the search scope, and
 * charged one unit before its input is even read (so malformed requests are
 * not free); the rest of its units, once parsed, go through chargeRest.
 */
async function searchCaller(request: Request, env: Env, config: Config): Promise<Caller> {
  const caller = await identify(request, env);
  requireScope(caller, "search", true);
  await charge(env, config, caller, "search", 1);
  return caller;
}

async function chargeRest(env: Env, config: Config, caller: Caller, kind: "search" | "embed", units: number): Promise<void> {
  if (units > 1) await charge(env, config, caller, kind, units - 1);
}

/** Who sees internals (health details, the cache-hit header): admin keys, or everyone with PUBLIC_DIAGNOSTICS on. */
function seesDiagnostics(caller: Caller, config: Config): boolean {
  return config.publicDiagnostics || (caller.kind === "key" && caller.key.scopes.has("admin"));
}

async function runSearch(env: Env, ctx: ExecutionContext, config: Config, caller: Caller, queries: QuerySpec[], k: number, search: Searcher) {
  const t0 = performance.now();
  const { index, model } = await ready(env, config, ctx);
  // Filters are checked against the serving index's fields before any work is spent.
  const filters = queries.map((s) => compileRequestFilter(s.filter, index.handle, s.where));
  // Only text queries are embedded; vector queries come as they are.
  const texts = queries.flatMap((s) => (s.q !== undefined ? [s.q] : []));
  const encodings = texts.length ? tokenize(model, texts, config.maxSearchTokens, queries.length > 1 ? "queries" : "q") : [];
  // Long texts cost the model more: charged before they are embedded.
  await charge(env, config, caller, "search", tokenUnits(encodings));
  const tReady = performance.now();
  const embedded = encodings.length ? await model.embedEncoded(encodings) : [];
  const tEmbed = performance.now();
  let next = 0;
  const vectors = queries.map((s) => s.vector ?? embedded[next++]);
  // A batch's searches run together, so their KV rounds overlap instead of queueing.
  const perQuery = await Promise.all(
    queries.map(async (spec, i) => {
      const s0 = performance.now();
      const outcome = await search(index.handle, { text: spec.q ?? null, vector: vectors[i] }, k, filters[i], spec.search ?? {});
      const s = performance.now() - s0;
      return {
        query: spec.q ?? null,
        ...(spec.filter ? { filter: spec.filter.value } : {}),
        // The mode that answered (the index's default when the query named none), and why a lexical query found nothing.
        mode: outcome.mode,
        ...(outcome.fusion ? { fusion: outcome.fusion } : {}),
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        results: outcome.results.map(wireHit),
        // compute_ms is the search less its waits on KV: its own CPU, locally (timers
        // stand still during compute in production, where it reads ~0).
        search_ms: round(s),
        compute_ms: round(s - outcome.stats.kvMs),
        stats: wireStats(outcome.stats),
      };
    }),
  );
  const tSearch = performance.now();
  // Queries of one request are embedded together; the batch's searches overlap, so its search_ms is less than their sum.
  const timings = { embed_ms: round(tEmbed - tReady), search_ms: round(tSearch - tEmbed), total_ms: round(performance.now() - t0) };
  const headers = { "Server-Timing": serverTiming({ ready: tReady - t0, embed: timings.embed_ms, search: timings.search_ms, total: timings.total_ms }) };
  return { index, perQuery, timings, headers, filters, t0, tEmbed };
}

type SearchRun = Awaited<ReturnType<typeof runSearch>>;

/** What every answer says of its query: the text, the filter as sent, how it was answered, and the hits. */
function answered(q: SearchRun["perQuery"][number]) {
  return {
    query: q.query,
    ...(q.filter !== undefined ? { filter: q.filter } : {}),
    mode: q.mode,
    ...(q.fusion ? { fusion: q.fusion } : {}),
    ...(q.reason ? { reason: q.reason } : {}),
    results: q.results,
  };
}

function singleAnswer(run: SearchRun, k: number): SearchResponse {
  const q = run.perQuery[0];
  const { query, ...rest } = answered(q);
  return {
    object: "search",
    query,
    k,
    ...rest,
    index: wireIndex(run.index),
    timings: { embed_ms: run.timings.embed_ms, search_ms: q.search_ms, compute_ms: q.compute_ms, total_ms: round(run.tEmbed - run.t0 + q.search_ms) },
    stats: q.stats,
  };
}

function batchAnswer(run: SearchRun, k: number): BatchSearchResponse {
  return {
    object: "search.batch",
    k,
    index: wireIndex(run.index),
    answers: run.perQuery.map((q) => ({
      ...answered(q),
      timings: { search_ms: q.search_ms, compute_ms: q.compute_ms },
      stats: q.stats,
    })),
    timings: run.timings,
  };
}

/** GET /v1/search?q=&k=&filter= (cached per index version when SEARCH_CACHE_SECONDS > 0). */
export function searchGet(search: Searcher = indexSearch) {
  return async (request: Request, env: Env, ctx: ExecutionContext): Promise<Response> => {
    const config = readConfig(env);
    const caller = await searchCaller(request, env, config);
    const url = new URL(request.url);
    const q = parseQuery(url.searchParams.get("q") ?? undefined, config.maxQueryChars);
    const k = parseK(url.searchParams.get("k") ?? undefined, "query");
    const asked = modeRequest(Object.fromEntries(["mode", "fusion"].filter((p) => url.searchParams.has(p)).map((p) => [p, url.searchParams.get(p)])));
    const spec: QuerySpec = { q, filter: filterFromParam(url.searchParams.get("filter")), where: "", search: asked };
    // Answers differ by mode and fusion: they are part of the cache entry's name.
    const mode = `${asked.mode ?? ""}|${asked.fusion ?? ""}`;
    await chargeRest(env, config, caller, "search", queryUnits(spec.filter !== undefined, k));
    const cacheable = search === indexSearch && config.searchCacheSeconds > 0;
    if (cacheable) {
      const active = await activeIndex(env, config, ctx);
      const filter = compileRequestFilter(spec.filter, active.handle);
      const hit = await cachedAnswer(await searchCacheKey({ version: active.version, q, k, filter: filter?.canonical, mode }), q, spec.filter?.value, seesDiagnostics(caller, config));
      if (hit) return hit;
    }
    const run = await runSearch(env, ctx, config, caller, [spec], k, search);
    const body = singleAnswer(run, k);
    if (!cacheable) return json(body, 200, run.headers);
    const response = json(body, 200, { ...run.headers, "Cache-Control": cacheControl(config.searchCacheSeconds) });
    // Keyed by the version that answered, which a background refresh may have changed meanwhile.
    storeAnswer(ctx, await searchCacheKey({ version: run.index.version, q, k, filter: run.filters[0]?.canonical, mode }), response);
    return response;
  };
}

/** POST /v1/search: one query (`q` or `vector`) or a batch (`queries`). */
export function searchPost(search: Searcher = indexSearch) {
  return async (request: Request, env: Env, ctx: ExecutionContext): Promise<Response> => {
    const config = readConfig(env);
    const caller = await searchCaller(request, env, config);
    const body = await readJsonObject(request);
    const parsed = parseSearchBody(body, config.maxQueryChars, config.maxBatchQueries);
    // A batch is charged per query, not once.
    const specs = parsed.kind === "single" ? [parsed.query] : parsed.queries;
    await chargeRest(env, config, caller, "search", specs.reduce((units, s) => units + queryUnits(s.filter !== undefined, parsed.k), 0));
    if (parsed.kind === "single") {
      const run = await runSearch(env, ctx, config, caller, [parsed.query], parsed.k, search);
      return json(singleAnswer(run, parsed.k), 200, run.headers);
    }
    const run = await runSearch(env, ctx, config, caller, parsed.queries, parsed.k, search);
    return json(batchAnswer(run, parsed.k), 200, run.headers);
  };
}

/**
 * The checks both embedding routes make before reading the body. They fail closed:
 * a key with the embed scope, unless the operator made /embed public on purpose.
 */
async function embedAccess(request: Request, env: Env, config: Config): Promise<Caller> {
  if (!config.embedEndpoint) throw new HttpError("embed_disabled", "the embedding routes are disabled on this deployment");
  const caller = await identify(request, env);
  requireScope(caller, "embed", config.embedPublic);
  await charge(env, config, caller, "embed", 1);
  return caller;
}

async function embedTexts(env: Env, ctx: ExecutionContext, config: Config, caller: Caller, texts: string[], param: string) {
  await chargeRest(env, config, caller, "embed", texts.length);
  const t0 = performance.now();
  const { model } = await ready(env, config, ctx);
  const encodings = tokenize(model, texts, config.maxRequestTokens, param);
  await charge(env, config, caller, "embed", tokenUnits(encodings));
  const tokens = encodings.reduce((n, e) => n + e.length, 0);
  const tReady = performance.now();
  const vectors = await model.embedEncoded(encodings);
  const tEmbed = performance.now();
  const headers = { "Server-Timing": serverTiming({ ready: tReady - t0, embed: tEmbed - tReady, total: tEmbed - t0 }) };
  return { model, vectors, tokens, headers };
}

/** POST /v1/embed {"texts": [...]}: the native embedding route. */
export async function embedPost(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  const caller = await embedAccess(request, env, config);
  const texts = parseEmbedBody(await readJsonObject(request), config.maxQueryChars, config.maxEmbedTexts);
  const { model, vectors, tokens, headers } = await embedTexts(env, ctx, config, caller, texts, "texts");
  const body: EmbedResponse = { object: "embed", model: model.id, dim: model.dim, vectors: vectors.map((v) => Array.from(v)), usage: { tokens } };
  return json(body, 200, headers);
}

/** POST /v1/embeddings: OpenAI's embeddings API (its SDKs ask for base64 unless told otherwise). */
export async function embeddingsPost(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  const caller = await embedAccess(request, env, config);
  const req = parseEmbeddingsBody(await readJsonObject(request), config.maxQueryChars, config.maxEmbedTexts);
  // The model is known only once the index is: checked before any embedding work.
  const { index } = await ready(env, config, ctx);
  const served = index.manifest.model.id;
  if (!modelNames(served).includes(req.model)) {
    throw new HttpError("unknown_model", `model "${req.model}" is not served here; this deployment serves "${served}" (also "${modelNames(served).slice(1).join('", "')}")`, { param: "model" });
  }
  const { model, vectors, tokens, headers } = await embedTexts(env, ctx, config, caller, req.texts, "input");
  const body: EmbeddingsResponse = {
    object: "list",
    data: vectors.map((v, index) => ({ object: "embedding", index, embedding: req.encoding === "base64" ? float32Base64(v) : Array.from(v) })),
    model: model.id,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
  return json(body, 200, headers);
}

/** GET /v1/healthz: readiness for everyone; internals (memory, model loads, failure details) for admin keys. */
export async function healthz(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  const caller = await identify(request, env);
  await charge(env, config, caller, "search", 1);
  if (!seesDiagnostics(caller, config)) {
    const { index, model } = await ready(env, config, ctx);
    const brief: HealthResponse = { status: "ok", version: index.version, items: index.items, model: model.id };
    return json(brief);
  }
  let index: IndexVersion;
  let model: LoadedModel;
  try {
    ({ index, model } = await ready(env, config, ctx));
  } catch (err) {
    const generic = toHttpError(err);
    if (generic.status !== 503) throw err;
    return errorResponse(new HttpError(generic.code, err instanceof Error ? err.message : String(err), { headers: generic.headers }));
  }
  const body: HealthResponse = {
    status: "ok",
    version: index.version,
    items: index.items,
    model: model.id,
    model_loads: modelLoadsStarted(),
    model_load_ms: model.loadMs,
    memory: { wasm_heap_bytes: wasmMemoryBytes(), tensor_bytes: tensorBytes() },
    resident: residentStatus(index.handle, config),
  };
  return json(body);
}

/** Example queries the build drew from the corpus (`manifest.examples`); none for an index built before them. */
export async function examples(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  await searchCaller(request, env, config);
  // Waits for the model too: the page asks for examples on load, which warms the isolate before the first search.
  const { index } = await ready(env, config, ctx);
  const listed = (index.manifest as { examples?: unknown }).examples;
  const texts = Array.isArray(listed) ? listed.filter((t): t is string => typeof t === "string") : [];
  const body: ExamplesResponse = { object: "examples", examples: texts, index: wireIndex(index) };
  return json(body);
}

/** The filterable fields of the serving index, with their ranges and values, for clients and the page. */
export async function fields(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  await searchCaller(request, env, config);
  const index = await activeIndex(env, config, ctx);
  const body: FieldsResponse = {
    object: "fields",
    fields: describeFields(index.handle).map((f) => ({ name: f.name, type: f.type, min: f.min, max: f.max, ...(f.values ? { values: f.values } : {}), ...(f.distinct !== undefined ? { distinct: f.distinct } : {}) })),
    index: wireIndex(index),
  };
  return json(body);
}
