// A typed fetch client for the /v1 API (docs/api.md), for browsers, Workers,
// Deno, Bun and Node 18+. No dependencies: it uses the platform's fetch, or the
// one you pass. Import it as `edge-semantic-search/client`.
import type {
  BatchSearchResponse,
  EmbedResponse,
  ErrorResponse,
  ExamplesResponse,
  FieldsResponse,
  HealthResponse,
  SearchResponse,
  WireHit,
} from "../functions/wire.ts";
import type { ErrorCode } from "../functions/errors.ts";

export type { BatchSearchResponse, EmbedResponse, ExamplesResponse, FieldsResponse, HealthResponse, SearchResponse, WireHit as Hit, ErrorCode };
export type { BatchAnswer, FieldDescription, WireSearchStats as SearchStats, WireIndex as IndexInfo } from "../functions/wire.ts";

/** A filter: Vectorize's operators ($eq $ne $in $nin $lt $lte $gt $gte) plus $or (GET /v1/fields lists the fields). */
export type Filter = Record<string, unknown>;

/** A query vector: 512 floats of unit norm from this model (e.g. POST /v1/embed or /v1/embeddings). */
export type QueryVector = number[] | Float32Array | string;

/**
 * Per-query options: the API's `k`, `filter`, `mode` and `fusion`; any other
 * member is sent as it is (for a knob a newer deployment takes).
 */
export interface SearchOptions {
  k?: number;
  filter?: Filter | null;
  /** semantic, lexical or hybrid (the deployment's default when absent); a query by vector is semantic. */
  mode?: "semantic" | "lexical" | "hybrid";
  /** Hybrid's fusion: score (the default) or rrf. */
  fusion?: "score" | "rrf";
  [knob: string]: unknown;
}

export interface ClientOptions {
  /** The Worker's origin, e.g. https://search.example.com (the /v1 prefix is added). */
  baseUrl: string | URL;
  /** Bearer token for the embedding routes, when the deployment sets EMBED_TOKEN. */
  embedToken?: string;
  /** Another fetch (tests, proxies, service bindings). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/** A non-2xx answer, with the API's error code and the offending input. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    message: string,
    readonly param: string | undefined,
    /** Seconds to wait before retrying (429 and transient 503s), from Retry-After. */
    readonly retryAfter: number | undefined,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type BatchQuery = string | { q: string; filter?: Filter | null } | { vector: QueryVector; filter?: Filter | null };

function vectorBody(v: QueryVector): number[] | string {
  return typeof v === "string" ? v : Array.from(v);
}

export class SearchClient {
  readonly baseUrl: URL;
  private readonly doFetch: (input: string, init?: RequestInit) => Promise<Response>;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = new URL(String(options.baseUrl));
    this.doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  private async request<T>(path: string, body?: unknown, auth = false): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json", ...(this.options.headers ?? {}) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.options.embedToken) headers.Authorization = `Bearer ${this.options.embedToken}`;
    const res = await this.doFetch(new URL(path, this.baseUrl).href, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, `http_${res.status}`, `the server answered HTTP ${res.status} with no JSON`, undefined, undefined);
    }
    if (!res.ok) {
      const e = (parsed as Partial<ErrorResponse>).error;
      const retry = res.headers.get("Retry-After");
      throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `HTTP ${res.status}`, e?.param, retry === null ? undefined : Number(retry));
    }
    return parsed as T;
  }

  private static knobs(options: SearchOptions): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) if (value !== undefined && !(key === "filter" && value === null)) out[key] = value;
    return out;
  }

  /** Hits for a query text, best first. */
  search(q: string, options: SearchOptions = {}): Promise<SearchResponse> {
    return this.request("/v1/search", { q, ...SearchClient.knobs(options) });
  }

  /** Hits for a query vector made by this model (512 unit-norm floats, or base64 float32). */
  searchVector(vector: QueryVector, options: SearchOptions = {}): Promise<SearchResponse> {
    return this.request("/v1/search", { vector: vectorBody(vector), ...SearchClient.knobs(options) });
  }

  /** Several queries in one request (at most MAX_BATCH_QUERIES); `options.filter` applies to those without their own. */
  searchBatch(queries: BatchQuery[], options: SearchOptions = {}): Promise<BatchSearchResponse> {
    const wire = queries.map((q) => (typeof q === "string" ? q : "vector" in q ? { ...q, vector: vectorBody(q.vector) } : q));
    return this.request("/v1/search", { queries: wire, ...SearchClient.knobs(options) });
  }

  /** Unit vectors for texts, with the index's own model. */
  embed(texts: string[]): Promise<EmbedResponse> {
    return this.request("/v1/embed", { texts }, true);
  }

  fields(): Promise<FieldsResponse> {
    return this.request("/v1/fields");
  }

  examples(): Promise<ExamplesResponse> {
    return this.request("/v1/examples");
  }

  health(): Promise<HealthResponse> {
    return this.request("/v1/healthz");
  }

  /** The OpenAPI 3.1 document of this API. */
  openapi(): Promise<Record<string, unknown>> {
    return this.request("/v1/openapi.json");
  }
}
