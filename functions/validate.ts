// Request parsing: every malformed input becomes a 400 with a specific code, so
// clients can tell a typo from an outage.
import { HttpError } from "./http.ts";
import { filterFromBody, type FilterInput } from "./filter-request.ts";

export const DEFAULT_K = 10;
export const MAX_K = 100;
/** Large enough for 32 texts of 1,000 characters in any script, small enough to refuse abuse. */
export const MAX_BODY_BYTES = 512 * 1024;

const bad = (code: string, message: string) => new HttpError(400, code, message);

export function parseQuery(raw: unknown, maxChars: number, field = "q"): string {
  if (raw === undefined || raw === null) throw bad("missing_query", `"${field}" is required`);
  if (typeof raw !== "string") throw bad("invalid_query", `"${field}" must be a string`);
  if (raw.trim() === "") throw bad("empty_query", `"${field}" must contain non-whitespace text`);
  // Counted on the NFKC form the tokenizer sees (one U+FDFA is 18 characters there),
  // in code points, not UTF-16 units, so the limit means the same in every script.
  let chars = 0;
  for (const _ of raw.normalize("NFKC")) if (++chars > maxChars) throw bad("query_too_long", `"${field}" exceeds ${maxChars} characters (after NFKC normalization)`);
  return raw;
}

/** GET passes k as text, POST as a JSON number; both must be an integer in 1..100. */
export function parseK(raw: unknown, from: "query" | "json"): number {
  if (raw === undefined || raw === null) return DEFAULT_K;
  let k: number;
  if (typeof raw === "string" && from === "query") {
    if (!/^\s*\d+\s*$/.test(raw)) throw bad("invalid_k", `"k" must be an integer from 1 to ${MAX_K}`);
    k = Number(raw);
  } else if (typeof raw === "number") k = raw;
  else throw bad("invalid_k", `"k" must be an integer from 1 to ${MAX_K}`);
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw bad("invalid_k", `"k" must be an integer from 1 to ${MAX_K}`);
  return k;
}

export async function readJsonObject(request: Request): Promise<Record<string, unknown>> {
  // Read to the end even past the limit, discarding: answering before the body
  // is consumed makes the runtime drop the connection, and a client reusing it
  // then sees a reset instead of our 413. The platform caps bodies anyway.
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size <= MAX_BODY_BYTES) chunks.push(value);
    }
  }
  if (size > MAX_BODY_BYTES) throw new HttpError(413, "body_too_large", `body exceeds ${MAX_BODY_BYTES} bytes`);
  const bytes = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    bytes.set(c, o);
    o += c.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bad("invalid_json", "body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("invalid_body", "body must be a JSON object");
  return body as Record<string, unknown>;
}

/** One query of a request: its text, its filter if any, and where it sits (for error paths). */
export interface QuerySpec {
  q: string;
  filter?: FilterInput;
  where: string;
}

export type SearchRequest = { kind: "single"; query: QuerySpec; k: number } | { kind: "batch"; queries: QuerySpec[]; k: number };

/** A batch entry is a query string (the request's filter applies), or {"q", "filter"} with its own. */
function batchEntry(entry: unknown, i: number, shared: FilterInput | undefined, maxChars: number): QuerySpec {
  const where = `queries[${i}].`;
  if (typeof entry === "object" && entry !== null && !Array.isArray(entry)) {
    const e = entry as Record<string, unknown>;
    const extra = Object.keys(e).filter((key) => key !== "q" && key !== "filter");
    if (extra.length) throw bad("invalid_body", `queries[${i}] may hold "q" and "filter" only, not "${extra[0]}"`);
    // Its own "filter" replaces the shared one; "filter": null opts this query out of it.
    return { q: parseQuery(e.q, maxChars, `queries[${i}].q`), filter: "filter" in e ? filterFromBody(e.filter, where) : shared, where };
  }
  return { q: parseQuery(entry, maxChars, `queries[${i}]`), filter: shared, where };
}

export function parseSearchBody(body: Record<string, unknown>, maxChars: number, maxBatch: number): SearchRequest {
  const k = parseK(body.k, "json");
  const filter = filterFromBody(body.filter);
  const hasQ = "q" in body;
  const hasQueries = "queries" in body;
  if (hasQ && hasQueries) throw bad("invalid_body", 'send either "q" or "queries", not both');
  if (hasQueries) {
    const queries = body.queries;
    if (!Array.isArray(queries)) throw bad("invalid_body", '"queries" must be an array of strings or {"q", "filter"} objects');
    if (queries.length === 0) throw bad("invalid_body", '"queries" must not be empty');
    if (queries.length > maxBatch) throw bad("batch_too_large", `at most ${maxBatch} queries per request`);
    return { kind: "batch", queries: queries.map((q, i) => batchEntry(q, i, filter, maxChars)), k };
  }
  return { kind: "single", query: { q: parseQuery(body.q, maxChars), filter, where: "" }, k };
}

export function parseEmbedBody(body: Record<string, unknown>, maxChars: number, maxTexts: number): string[] {
  const texts = body.texts;
  if (!Array.isArray(texts)) throw bad("invalid_body", '"texts" must be an array of strings');
  if (texts.length === 0) throw bad("invalid_body", '"texts" must not be empty');
  if (texts.length > maxTexts) throw bad("batch_too_large", `at most ${maxTexts} texts per request`);
  return texts.map((t, i) => parseQuery(t, maxChars, `texts[${i}]`));
}
