// The API handlers. Each returns a Response or throws HttpError / a coded error;
// worker.ts turns throws into the error envelope.
import { readConfig, type Config, type Env } from "./config.ts";
import { HttpError, errorResponse, json, round, serverTiming, toHttpError } from "./http.ts";
import { currentIndex, type IndexVersion } from "./index-state.ts";
import { getModel, modelLoadsStarted, retainOnlyModel, type LoadedModel } from "./model.ts";
import { exactSearch } from "./exact-search.ts";
import { indexAdapter, isolateCache } from "./search-adapter.ts";
import { tensorBytes, wasmMemoryBytes } from "./tf-wasm.ts";
import { parseEmbedBody, parseK, parseQuery, parseSearchBody, readJsonObject, type QuerySpec } from "./validate.ts";
import { compileRequestFilter, filterFromParam } from "./filter-request.ts";
import { describeFields } from "./fields.ts";
import { ensureResident, residentStatus } from "./resident-load.ts";
import { charge, identify, queryUnits, requireScope, tokenUnits, type Caller } from "./access.ts";
import { cacheControl, cachedAnswer, searchCacheKey, storeAnswer } from "./search-cache.ts";

interface Ready {
  index: IndexVersion;
  model: LoadedModel;
}

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

/**
 * The model's work per request is bounded by tokens, whatever the mix of texts
 * and lengths: each text is encoded once, here, counting stops at the cap, and
 * these very tokens are embedded.
 */
function tokenize(model: LoadedModel, texts: readonly string[], cap: number): number[][] {
  const t = model.tokenize(texts, cap);
  if (!t.ok) throw new HttpError(400, "too_many_tokens", `the texts of one request may hold at most ${cap} tokens; these hold more`);
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

async function runSearch(env: Env, ctx: ExecutionContext, config: Config, caller: Caller, queries: QuerySpec[], k: number, exact = false) {
  const t0 = performance.now();
  const { index, model } = await ready(env, config, ctx);
  // Filters are checked against the serving index's fields before any work is spent.
  const filters = queries.map((s) => compileRequestFilter(s.filter, index.handle, s.where));
  const encodings = tokenize(model, queries.map((s) => s.q), config.maxSearchTokens);
  // Long texts cost the model more: charged before they are embedded.
  await charge(env, config, caller, "search", tokenUnits(encodings));
  const tReady = performance.now();
  const vectors = await model.embedEncoded(encodings);
  const tEmbed = performance.now();
  // A batch's searches run together, so their KV rounds overlap instead of queueing.
  const perQuery = await Promise.all(
    queries.map(async (spec, i) => {
      const s0 = performance.now();
      const outcome = exact ? await exactSearch(index.handle, vectors[i], k, filters[i]) : await indexAdapter.search(index.handle, vectors[i], k, filters[i]);
      const s = performance.now() - s0;
      return {
        query: spec.q,
        k,
        ...(spec.filter ? { filter: spec.filter.value } : {}),
        results: outcome.results.map((r) => ({ id: r.id, score: r.score, text: r.text, meta: r.meta ?? {} })),
        index: { version: index.version, items: index.items },
        // Queries of one request are embedded together; each reports that shared time.
        // compute_ms is the search less its waits on KV: its own CPU, locally (timers
        // stand still during compute in production, where it reads ~0).
        timings: { embed_ms: round(tEmbed - tReady), search_ms: round(s), compute_ms: round(s - outcome.stats.kvMs), total_ms: round(tEmbed - t0 + s) },
        // What the query cost in KV terms: shards and records needed, bytes, sequential rounds.
        stats: outcome.stats,
      };
    }),
  );
  const tSearch = performance.now();
  // Wall time of the batch's searches (they overlap, so less than the sum of each query's search_ms).
  const timings = { embed_ms: round(tEmbed - tReady), search_ms: round(tSearch - tEmbed), total_ms: round(performance.now() - t0) };
  const headers = {
    "Server-Timing": serverTiming({ ready: tReady - t0, embed: timings.embed_ms, search: timings.search_ms, total: timings.total_ms }),
  };
  return { index, perQuery, timings, headers, filters };
}

export async function searchGet(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  const caller = await searchCaller(request, env, config);
  const url = new URL(request.url);
  const q = parseQuery(url.searchParams.get("q") ?? undefined, config.maxQueryChars);
  const k = parseK(url.searchParams.get("k") ?? undefined, "query");
  const spec: QuerySpec = { q, filter: filterFromParam(url.searchParams.get("filter")), where: "" };
  await chargeRest(env, config, caller, "search", queryUnits(spec.filter !== undefined, k));
  // Bench-only brute force over every item (functions/exact-search.ts).
  const exact = ["1", "true", "on"].includes(url.searchParams.get("exact") ?? "");
  if (exact && !config.benchExact) throw new HttpError(403, "exact_disabled", "exact search is a benchmark facility, disabled on this deployment");
  const cacheable = !exact && config.searchCacheSeconds > 0;
  if (cacheable) {
    const active = await activeIndex(env, config, ctx);
    const filter = compileRequestFilter(spec.filter, active.handle);
    const hit = await cachedAnswer(await searchCacheKey({ version: active.version, q, k, filter: filter?.canonical }), q, spec.filter?.value, seesDiagnostics(caller, config));
    if (hit) return hit;
  }
  const { index, perQuery, headers, filters } = await runSearch(env, ctx, config, caller, [spec], k, exact);
  if (!cacheable) return json(perQuery[0], 200, headers);
  const response = json(perQuery[0], 200, { ...headers, "Cache-Control": cacheControl(config.searchCacheSeconds) });
  // Keyed by the version that answered, which a background refresh may have changed meanwhile.
  storeAnswer(ctx, await searchCacheKey({ version: index.version, q, k, filter: filters[0]?.canonical }), response);
  return response;
}

export async function searchPost(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  const caller = await searchCaller(request, env, config);
  const body = await readJsonObject(request);
  const parsed = parseSearchBody(body, config.maxQueryChars, config.maxBatchQueries);
  // A batch is charged per query, not once.
  const specs = parsed.kind === "single" ? [parsed.query] : parsed.queries;
  await chargeRest(env, config, caller, "search", specs.reduce((units, s) => units + queryUnits(s.filter !== undefined, parsed.k), 0));
  if (parsed.kind === "single") {
    const { perQuery, headers } = await runSearch(env, ctx, config, caller, [parsed.query], parsed.k);
    return json(perQuery[0], 200, headers);
  }
  const { index, perQuery, timings, headers } = await runSearch(env, ctx, config, caller, parsed.queries, parsed.k);
  return json({ k: parsed.k, index: { version: index.version, items: index.items }, results: perQuery, timings }, 200, headers);
}

export async function embedPost(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  if (!config.embedEndpoint) throw new HttpError(403, "embed_disabled", "the /embed endpoint is disabled on this deployment");
  // Fails closed: a key with the embed scope, unless the operator made /embed public on purpose.
  const caller = await identify(request, env);
  requireScope(caller, "embed", config.embedPublic);
  await charge(env, config, caller, "embed", 1);
  const body = await readJsonObject(request);
  const texts = parseEmbedBody(body, config.maxQueryChars, config.maxEmbedTexts);
  await chargeRest(env, config, caller, "embed", texts.length);
  const t0 = performance.now();
  const { model } = await ready(env, config, ctx);
  const encodings = tokenize(model, texts, config.maxRequestTokens);
  await charge(env, config, caller, "embed", tokenUnits(encodings));
  const tReady = performance.now();
  const vectors = await model.embedEncoded(encodings);
  const tEmbed = performance.now();
  return json({ model: model.id, dim: model.dim, vectors: vectors.map((v) => Array.from(v)) }, 200, {
    "Server-Timing": serverTiming({ ready: tReady - t0, embed: tEmbed - tReady, total: tEmbed - t0 }),
  });
}

/** Diagnostics (detailed /healthz, the cache-hit header) are for admin keys, or for all with PUBLIC_DIAGNOSTICS = "on" (local tests and benches). */
function seesDiagnostics(caller: Caller, config: Config): boolean {
  return config.publicDiagnostics || (caller.kind === "key" && caller.key.scopes.has("admin"));
}

/**
 * Health: status, version, items and model for anyone (rate-limited like a
 * query); for diagnostics also the isolate's internals, and on failure the
 * failure's own detail, which everyone else gets only as a generic 503.
 */
export async function healthz(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  const caller = await identify(request, env);
  await charge(env, config, caller, "search", 1);
  if (!seesDiagnostics(caller, config)) {
    const { index, model } = await ready(env, config, ctx);
    return json({ status: "ok", version: index.version, items: index.items, model: model.id });
  }
  let index: IndexVersion;
  let model: LoadedModel;
  try {
    ({ index, model } = await ready(env, config, ctx));
  } catch (err) {
    const generic = toHttpError(err);
    if (generic.status !== 503) throw err;
    return errorResponse(new HttpError(503, generic.code, err instanceof Error ? err.message : String(err), generic.headers));
  }
  return json({
    status: "ok",
    version: index.version,
    items: index.items,
    model: model.id,
    model_loads: modelLoadsStarted(),
    model_load_ms: model.loadMs,
    memory: { wasm_heap_bytes: wasmMemoryBytes(), tensor_bytes: tensorBytes() },
    resident: residentStatus(index.handle, config),
  });
}

/** Example queries the build drew from the corpus (`manifest.examples`); none for an index built before them. */
export async function examples(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  await searchCaller(request, env, config);
  // Waits for the model too: the page asks for examples on load, which warms the isolate before the first search.
  const { index } = await ready(env, config, ctx);
  const listed = (index.manifest as { examples?: unknown }).examples;
  const texts = Array.isArray(listed) ? listed.filter((t): t is string => typeof t === "string") : [];
  return json({ examples: texts, index: { version: index.version, items: index.items } });
}

/** The filterable fields of the serving index, with their ranges and values, for clients and the page. */
export async function fields(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const config = readConfig(env);
  await searchCaller(request, env, config);
  const index = await activeIndex(env, config, ctx);
  return json({ fields: describeFields(index.handle), index: { version: index.version, items: index.items } });
}
