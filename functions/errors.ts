// Every error code the API can answer with, in one typed catalog (after Orama's
// errors.ts). The HTTP status, Retry-After and the OpenAI envelope's `type` are
// derived from here and nowhere else; lib's coded errors (IndexError,
// ModelError, FilterError) carry codes that must be keys of this catalog, which
// test/errors-catalog.test.ts checks. Adding a code: add one line below, then
// document it in docs/api.md (a test checks that too).

export interface ErrorSpec {
  status: 400 | 401 | 403 | 404 | 405 | 413 | 429 | 500 | 503;
  /** Seconds a client should wait before retrying; absent: retrying the same request will not help. */
  retryAfter?: number;
  /** One line for the docs and the OpenAPI document. */
  doc: string;
}

/** A transient 503 (publishing, KV lag or outage, model loading) is worth retrying after this long. */
const TRANSIENT = 5;
/** The `period` of every [[ratelimits]] binding in wrangler.toml (functions/access.ts RATE_LIMIT_PERIOD_SECONDS). */
const RATE_PERIOD = 10;

export const ERRORS = {
  // Request validation (every 400 names the offending input in `param`).
  missing_query: { status: 400, doc: "A query text is required (`q`, or `vector` on POST /v1/search)." },
  invalid_query: { status: 400, doc: "A query text is not a string." },
  empty_query: { status: 400, doc: "A query text holds only whitespace." },
  query_too_long: { status: 400, doc: "A query text exceeds MAX_QUERY_CHARS code points." },
  too_many_tokens: { status: 400, doc: "The texts of one request hold more than MAX_REQUEST_TOKENS tokens." },
  invalid_k: { status: 400, doc: "`k` is not an integer from 1 to 100." },
  invalid_json: { status: 400, doc: "The body is not valid JSON." },
  invalid_body: { status: 400, doc: "The body is not the object this route takes (a missing, unknown or mistyped member)." },
  batch_too_large: { status: 400, doc: "More queries or texts than one request may hold." },
  invalid_vector: { status: 400, doc: "`vector` is not 512 finite floats of unit norm (as a JSON array or base64 little-endian float32)." },
  invalid_filter: { status: 400, doc: "The filter is malformed (bad JSON, operator, operand or type)." },
  unknown_filter_field: { status: 400, doc: "The filter names a field the serving index cannot filter on (GET /v1/fields lists them)." },
  filter_too_large: { status: 400, doc: "The filter's JSON exceeds its size limit." },
  unknown_model: { status: 400, doc: "`model` names a model this deployment does not serve (POST /v1/embeddings)." },
  invalid_encoding_format: { status: 400, doc: '`encoding_format` is neither "float" nor "base64" (POST /v1/embeddings).' },
  unsupported_dimensions: { status: 400, doc: "`dimensions` asks for other than the model's 512 (POST /v1/embeddings)." },
  invalid_mode: { status: 400, doc: '`mode` is not one of "semantic", "lexical", "hybrid".' },
  invalid_fusion: { status: 400, doc: '`fusion` is not one of "score", "rrf".' },
  mode_unavailable: { status: 400, doc: "The serving index was built without the lexical index that `mode` lexical or hybrid needs; rebuild it." },
  body_too_large: { status: 413, doc: "The body exceeds 512 KiB." },
  // Access.
  unauthorized: { status: 401, doc: "The route needs an API key (`Authorization: Bearer <key>`) with the scope the `WWW-Authenticate` header names." },
  invalid_key: { status: 401, doc: "The `Authorization` header names no known API key." },
  insufficient_scope: { status: 403, doc: "The API key lacks the scope this route needs (`search`, `embed` or `admin`)." },
  embed_disabled: { status: 403, doc: "The embedding routes are switched off on this deployment (EMBED_ENDPOINT=off)." },
  origin_not_allowed: { status: 403, doc: "A browser origin not in ALLOWED_ORIGINS." },
  rate_limited: { status: 429, retryAfter: RATE_PERIOD, doc: "This client used up its requests for the period." },
  // Routing.
  not_found: { status: 404, doc: "No such route." },
  method_not_allowed: { status: 405, doc: "The route does not take this method (the `Allow` header lists those it does)." },
  // The index and the model (lib's IndexError and functions/model.ts's ModelError).
  index_unavailable: { status: 503, retryAfter: TRANSIENT, doc: "No index is published yet, or KV could not be read (lag or outage)." },
  index_corrupt: { status: 503, doc: "The published pointer, manifest or routing fails its checks; republish." },
  shard_missing: { status: 503, retryAfter: TRANSIENT, doc: "A shard the query needs is not (yet) in KV." },
  shard_corrupt: { status: 503, doc: "A shard or record fails its checksum; republish." },
  record_missing: { status: 503, retryAfter: TRANSIENT, doc: "An item record the query needs is not (yet) in KV." },
  model_missing: { status: 503, retryAfter: TRANSIENT, doc: "A model blob is not (yet) in KV." },
  model_corrupt: { status: 503, doc: "A model blob fails its checksum or produces invalid embeddings; republish." },
  model_unavailable: { status: 503, retryAfter: TRANSIENT, doc: "The model could not start (or was being replaced)." },
  misconfigured: { status: 503, doc: "The deployment's configuration is incomplete (a missing rate-limit binding, an empty ALLOWED_ORIGINS, unreadable API_KEYS); the operator must fix it." },
  // A bug: the message is never the internal one.
  internal: { status: 500, doc: "An unexpected failure (a bug); the Worker logs it." },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERRORS, code);
}

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERRORS[code];
}

/** OpenAI's `error.type` for a status, so its SDKs raise the matching exception class. */
export function openAiErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
