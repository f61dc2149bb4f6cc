// Bindings and vars as wrangler.toml declares them, read defensively: a typo in a
// var must degrade to the documented default rather than take the Worker down.

/**
 * The bindings and vars of wrangler.toml, as `npm run types` (wrangler types)
 * generates them into worker-configuration.d.ts, plus the embedding token secret.
 */
export type Env = Cloudflare.Env & {
  /** Secret (`wrangler secret put EMBED_TOKEN`): read as one API key with the embed scope (functions/keys.ts). */
  EMBED_TOKEN?: string;
  /** Secret: the API keys, hashed (functions/keys.ts KeyRecord[] as JSON; `npm run keys`). */
  API_KEYS?: string;
};

export interface Config {
  maxQueryChars: number;
  embedEndpoint: boolean;
  maxBatchQueries: number;
  maxEmbedTexts: number;
  pointerTtlMs: number;
  /** Anonymous callers may use /embed (EMBED_PUBLIC = "on"); otherwise it needs a key with the embed scope. */
  embedPublic: boolean;
  /** Detailed /healthz and the cache-hit header for every caller, not only admin keys (PUBLIC_DIAGNOSTICS = "on"; local runs). */
  publicDiagnostics: boolean;
  /** Every rate-limit binding must exist (RATE_LIMITS is not "off"). */
  rateLimitsRequired: boolean;
  /** "*" or the exact origins allowed. */
  allowedOrigins: "*" | string[];
  maxRequestTokens: number;
  /** Tokens one search request's queries may hold together (embedding is most of a search's CPU). */
  maxSearchTokens: number;
  searchCacheSeconds: number;
  /** Byte budgets of the isolate's caches of decoded shards (and filter values), of item records and of lexicon parts. */
  shardCacheBytes: number;
  recordCacheBytes: number;
  lexiconCacheBytes: number;
  /** The largest resident copy of a version's records (functions/resident-load.ts) this isolate loads; 0: none. */
  residentBytes: number;
}

/**
 * Memory budget: the model's wasm heap is most of the isolate (tf-wasm.ts grows
 * it only by what malloc asks) and a resident copy of the records the next
 * largest part; these caches come on top of both and of the JS heap, sized so
 * that sustained load and bursts of maximal batches keep the isolate within its
 * memory target, well inside Workers' 128 MB. A blob (shard, filter value,
 * lexicon part) is charged what it holds: its decoded buffers and a bound for
 * its JS objects (lib/index/fetch.ts blobCharge), not its stored base64 length.
 * A cached record drops its base64 vector once decoded, so its charge (twice its
 * UTF-8 length) is about twice what it holds (docs/decisions.md#record-cache).
 *
 * Three budgets, because the values are shared differently (lib/index/fetch.ts):
 * a query needs many shards and a few lexicon parts, and in one budget the parts
 * evicted the shards. The shard and lexicon budgets are small: a hybrid query's
 * round 1 goes to KV unless every one of its terms' parts is cached, so holding
 * all of a small index's shards no longer saves that round, only bytes; the
 * memory it took put the isolate past its target (docs/decisions.md#cache-accounting).
 */
const SHARD_CACHE_KIB = 4 * 1024;
const RECORD_CACHE_KIB = 4 * 1024;
const LEXICON_CACHE_KIB = 512;
/**
 * A resident copy (lib/index/resident.ts) is what its manifest says it decodes
 * to; with it loaded round 2 reads nothing, so the record cache stays empty.
 * Model, caches and copy together stay inside Workers' 128 MB
 * (docs/decisions.md#resident-copy-budget).
 */
const RESIDENT_KIB = 32 * 1024;
const KIB = 1024;

function originList(raw: string | undefined): string[] {
  return (raw ?? "").split(",").map((o) => o.trim()).filter((o) => o !== "");
}

/** An empty list never reaches here: configProblems() refuses to serve with one. */
function origins(raw: string | undefined): "*" | string[] {
  const list = originList(raw);
  return list.length === 0 || list.includes("*") ? "*" : list;
}

/**
 * What is wrong with a deployment's configuration in a way that must not be
 * papered over with a default: a missing or empty ALLOWED_ORIGINS (it used to
 * mean "*"), a missing rate-limit binding (limits silently off), an unreadable
 * API_KEYS secret. worker.ts refuses every request while any is present.
 */
export function configProblems(env: Env, limiterBindings: readonly string[], checkKeys: (env: Env) => void): string[] {
  const problems: string[] = [];
  if (originList(env.ALLOWED_ORIGINS).length === 0) problems.push('ALLOWED_ORIGINS is empty or unset: set "*" or a comma-separated list of origins');
  if ((env.RATE_LIMITS ?? "on").trim().toLowerCase() !== "off") {
    const missing = limiterBindings.filter((name) => !(env as unknown as Record<string, unknown>)[name]);
    if (missing.length) problems.push(`rate-limit binding(s) ${missing.join(", ")} missing (wrangler.toml [[ratelimits]]); RATE_LIMITS = "off" is for tests only`);
  }
  try {
    checkKeys(env);
  } catch (e) {
    problems.push((e as Error).message);
  }
  return problems;
}

function int(raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= min ? n : fallback;
}

export function readConfig(env: Env): Config {
  return {
    maxQueryChars: int(env.MAX_QUERY_CHARS, 1000, 1),
    embedEndpoint: (env.EMBED_ENDPOINT ?? "on").trim().toLowerCase() !== "off",
    maxBatchQueries: int(env.MAX_BATCH_QUERIES, 16, 1),
    maxEmbedTexts: int(env.MAX_EMBED_TEXTS, 32, 1),
    pointerTtlMs: int(env.POINTER_TTL_MS, 10_000, 0),
    embedPublic: (env.EMBED_PUBLIC ?? "off").trim().toLowerCase() === "on",
    publicDiagnostics: (env.PUBLIC_DIAGNOSTICS ?? "off").trim().toLowerCase() === "on",
    rateLimitsRequired: (env.RATE_LIMITS ?? "on").trim().toLowerCase() !== "off",
    allowedOrigins: origins(env.ALLOWED_ORIGINS),
    maxRequestTokens: int(env.MAX_REQUEST_TOKENS, 4096, 1),
    maxSearchTokens: int(env.MAX_SEARCH_TOKENS, 1024, 1),
    searchCacheSeconds: int(env.SEARCH_CACHE_SECONDS, 60, 0),
    shardCacheBytes: int(env.SHARD_CACHE_KIB, SHARD_CACHE_KIB, 0) * KIB,
    recordCacheBytes: int(env.RECORD_CACHE_KIB, RECORD_CACHE_KIB, 0) * KIB,
    lexiconCacheBytes: int(env.LEXICON_CACHE_KIB, LEXICON_CACHE_KIB, 0) * KIB,
    residentBytes: int(env.RESIDENT_KIB, RESIDENT_KIB, 0) * KIB,
  };
}
