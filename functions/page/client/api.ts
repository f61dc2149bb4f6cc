// The JSON the page reads from the Worker (GET /v1/search, /v1/examples, /v1/fields; docs/api.md), as the
// page uses it, and one fetch that never throws except when aborted.

export interface IndexInfo {
  version: string;
  items: number;
}
export interface Hit {
  id: string | number;
  text: string;
  score: number;
  meta?: Record<string, unknown> | null;
  /** Why it ranked: its cosine and BM25 (null in semantic mode). */
  scores?: { semantic: number; lexical: number | null };
}
export interface SearchBody {
  results: Hit[];
  mode?: string;
  /** Why a lexical search found nothing. */
  reason?: string;
  /** stats.lexical.matched: the query's terms (stemmed) that the index has, which the page marks. */
  stats?: { lexical?: { terms: string[]; matched: string[] } };
  index: IndexInfo;
  timings: { embed_ms: number; search_ms: number; total_ms: number };
}
export interface ExamplesBody {
  examples: string[];
  index: IndexInfo;
}
export interface Field {
  name: string;
  type: string;
  min: string | number | null;
  max: string | number | null;
  values?: string[];
}
export interface FieldsBody {
  fields: Field[];
}
export interface ApiError {
  code?: string;
  message?: string;
}

/** status 0: the request did not reach the server. */
export type Reply<T> =
  | { ok: true; status: number; body: T; retryAfter: string | null }
  | { ok: false; status: number; body: { error?: ApiError } | null; retryAfter: string | null };

function errorName(e: unknown): string | undefined {
  return e instanceof Error || e instanceof DOMException ? e.name : undefined;
}

/** Throws only an AbortError; a network failure is status 0 with a network_error. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<Reply<T>> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (e) {
    if (errorName(e) === "AbortError") throw e;
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, status: 0, body: { error: { code: "network_error", message: "Network error: " + message } }, retryAfter: null };
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch (e) {
    if (errorName(e) === "AbortError") throw e;
  }
  const retryAfter = res.headers.get("Retry-After");
  if (res.ok && body !== null) return { ok: true, status: res.status, body: body as T, retryAfter };
  return { ok: false, status: res.status, body: body as { error?: ApiError } | null, retryAfter };
}
