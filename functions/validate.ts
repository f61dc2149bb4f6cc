// Request parsing: every malformed input becomes a 400 with a specific code from
// the catalog (errors.ts) and `param` naming the offending input, so clients can
// tell a typo from an outage and point at the field.
import { HttpError } from "./http.ts";
import type { ErrorCode } from "./errors.ts";
import { filterFromBody, type FilterInput } from "./filter-request.ts";
import { fromBase64, toBase64 } from "../lib/index/base64.ts";
import { EMBEDDING_DIM } from "../lib/model/embed.ts";
import { modeRequest, type ModeRequest } from "./search-mode.ts";

export const DEFAULT_K = 10;
export const MAX_K = 100;
/** Large enough for 32 texts of 1,000 characters in any script, small enough to refuse abuse. */
export const MAX_BODY_BYTES = 512 * 1024;
/** The model's embeddings have unit norm; a vector this far from it was not made by it. */
export const VECTOR_NORM_TOLERANCE = 0.01;

const bad = (code: ErrorCode, param: string, message: string) => new HttpError(code, message, { param });

export function parseQuery(raw: unknown, maxChars: number, field = "q"): string {
  if (raw === undefined || raw === null) throw bad("missing_query", field, `"${field}" is required`);
  if (typeof raw !== "string") throw bad("invalid_query", field, `"${field}" must be a string`);
  if (raw.trim() === "") throw bad("empty_query", field, `"${field}" must contain non-whitespace text`);
  // Counted on the NFKC form the tokenizer sees (one U+FDFA is 18 characters there),
  // in code points, not UTF-16 units, so the limit means the same in every script.
  let chars = 0;
  for (const _ of raw.normalize("NFKC")) if (++chars > maxChars) throw bad("query_too_long", field, `"${field}" exceeds ${maxChars} characters (after NFKC normalization)`);
  return raw;
}

/** GET passes k as text, POST as a JSON number; both must be an integer in 1..100. */
export function parseK(raw: unknown, from: "query" | "json"): number {
  if (raw === undefined || raw === null) return DEFAULT_K;
  const invalid = () => bad("invalid_k", "k", `"k" must be an integer from 1 to ${MAX_K}`);
  let k: number;
  if (typeof raw === "string" && from === "query") {
    if (!/^\s*\d+\s*$/.test(raw)) throw invalid();
    k = Number(raw);
  } else if (typeof raw === "number") k = raw;
  else throw invalid();
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw invalid();
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
  if (size > MAX_BODY_BYTES) throw new HttpError("body_too_large", `body exceeds ${MAX_BODY_BYTES} bytes`, { param: "body" });
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
    throw bad("invalid_json", "body", "body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("invalid_body", "body", "body must be a JSON object");
  return body as Record<string, unknown>;
}

/** Members a body may hold; anything else is a typo worth a 400, not silence. */
function onlyMembers(body: Record<string, unknown>, allowed: readonly string[], where = ""): void {
  const extra = Object.keys(body).find((key) => !allowed.includes(key));
  if (extra !== undefined) throw bad("invalid_body", `${where}${extra}`, `unknown member "${where}${extra}" (allowed: ${allowed.join(", ")})`);
}

/**
 * A query vector: EMBEDDING_DIM finite numbers as a JSON array, or base64 of
 * EMBEDDING_DIM little-endian float32 (what /v1/embeddings returns by default),
 * with unit norm, as the model makes them.
 */
export function parseVector(raw: unknown, field = "vector"): Float32Array {
  const v = new Float32Array(EMBEDDING_DIM);
  if (typeof raw === "string") {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(raw.trim());
    } catch {
      throw bad("invalid_vector", field, `"${field}" is not valid base64`);
    }
    if (bytes.byteLength !== EMBEDDING_DIM * 4) {
      throw bad("invalid_vector", field, `"${field}" holds ${bytes.byteLength} bytes; ${EMBEDDING_DIM} float32 are ${EMBEDDING_DIM * 4}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < EMBEDDING_DIM; i++) v[i] = view.getFloat32(i * 4, true);
  } else if (Array.isArray(raw)) {
    if (raw.length !== EMBEDDING_DIM) throw bad("invalid_vector", field, `"${field}" has ${raw.length} numbers; the model's embeddings have ${EMBEDDING_DIM}`);
    for (let i = 0; i < EMBEDDING_DIM; i++) {
      if (typeof raw[i] !== "number") throw bad("invalid_vector", `${field}[${i}]`, `"${field}[${i}]" is not a number`);
      v[i] = raw[i] as number;
    }
  } else {
    throw bad("invalid_vector", field, `"${field}" must be an array of ${EMBEDDING_DIM} numbers or a base64 string of float32`);
  }
  let sq = 0;
  for (let i = 0; i < EMBEDDING_DIM; i++) {
    if (!Number.isFinite(v[i])) throw bad("invalid_vector", `${field}[${i}]`, `"${field}[${i}]" is not finite (as float32)`);
    sq += v[i] * v[i];
  }
  const norm = Math.sqrt(sq);
  if (Math.abs(norm - 1) > VECTOR_NORM_TOLERANCE) {
    throw bad("invalid_vector", field, `"${field}" has norm ${norm.toPrecision(4)}; the model's embeddings have unit norm (±${VECTOR_NORM_TOLERANCE})`);
  }
  return v;
}

/** One query of a request: its text or vector, its filter if any, and where it sits (for error paths). */
export interface QuerySpec {
  q?: string;
  vector?: Float32Array;
  filter?: FilterInput;
  where: string;
  /** Search mode and fusion (functions/search-mode.ts); absent: the index's defaults. */
  search?: ModeRequest;
}

export type SearchRequest = { kind: "single"; query: QuerySpec; k: number } | { kind: "batch"; queries: QuerySpec[]; k: number };

/** `q` or `vector` of an object, exactly one of them. */
function queryOf(e: Record<string, unknown>, maxChars: number, where: string): Pick<QuerySpec, "q" | "vector"> {
  const hasQ = e.q !== undefined;
  const hasVector = e.vector !== undefined;
  if (hasQ && hasVector) throw bad("invalid_body", `${where}vector`, `send either "${where}q" or "${where}vector", not both`);
  if (hasVector) return { vector: parseVector(e.vector, `${where}vector`) };
  return { q: parseQuery(e.q, maxChars, `${where}q`) };
}

/** A batch entry is a query string (the request's filter, mode and fusion apply), or {"q"|"vector", "filter", "mode", "fusion"} with its own. */
function batchEntry(entry: unknown, i: number, shared: FilterInput | undefined, maxChars: number, search: ModeRequest): QuerySpec {
  const where = `queries[${i}].`;
  if (typeof entry === "object" && entry !== null && !Array.isArray(entry)) {
    const e = entry as Record<string, unknown>;
    onlyMembers(e, ["q", "vector", "filter", "mode", "fusion"], where);
    // Its own "filter" replaces the shared one ("filter": null opts this query out of it); its mode and fusion likewise.
    return { ...queryOf(e, maxChars, where), filter: "filter" in e ? filterFromBody(e.filter, where) : shared, where, search: modeRequest(e, where, search) };
  }
  return { q: parseQuery(entry, maxChars, `queries[${i}]`), filter: shared, where, search };
}

/** Members of POST /v1/search. */
export const SEARCH_BODY_MEMBERS = ["q", "vector", "queries", "k", "filter", "mode", "fusion"] as const;

export function parseSearchBody(body: Record<string, unknown>, maxChars: number, maxBatch: number): SearchRequest {
  onlyMembers(body, SEARCH_BODY_MEMBERS);
  const k = parseK(body.k, "json");
  const filter = filterFromBody(body.filter);
  const search = modeRequest(body);
  const hasQueries = "queries" in body;
  if (hasQueries && (body.q !== undefined || body.vector !== undefined)) {
    throw bad("invalid_body", "queries", 'send either "q", "vector" or "queries", not several');
  }
  if (hasQueries) {
    const queries = body.queries;
    if (!Array.isArray(queries)) throw bad("invalid_body", "queries", '"queries" must be an array of strings or {"q"|"vector", "filter"} objects');
    if (queries.length === 0) throw bad("invalid_body", "queries", '"queries" must not be empty');
    if (queries.length > maxBatch) throw bad("batch_too_large", "queries", `at most ${maxBatch} queries per request`);
    return { kind: "batch", queries: queries.map((q, i) => batchEntry(q, i, filter, maxChars, search)), k };
  }
  return { kind: "single", query: { ...queryOf(body, maxChars, ""), filter, where: "", search }, k };
}

export function parseEmbedBody(body: Record<string, unknown>, maxChars: number, maxTexts: number): string[] {
  onlyMembers(body, ["texts"]);
  const texts = body.texts;
  if (!Array.isArray(texts)) throw bad("invalid_body", "texts", '"texts" must be an array of strings');
  if (texts.length === 0) throw bad("invalid_body", "texts", '"texts" must not be empty');
  if (texts.length > maxTexts) throw bad("batch_too_large", "texts", `at most ${maxTexts} texts per request`);
  return texts.map((t, i) => parseQuery(t, maxChars, `texts[${i}]`));
}

export interface EmbeddingsRequest {
  texts: string[];
  /** The caller's name for the model, echoed back unchanged if it names the served one. */
  model: string;
  encoding: "float" | "base64";
}

/** The names a served model id (e.g. `use-lite@0.2.0/f16-…`) answers to: itself, without its weights tag, and its family. */
export function modelNames(id: string): string[] {
  const release = id.split("/")[0];
  return [id, release, release.split("@")[0]];
}

/** POST /v1/embeddings, as OpenAI's API defines it (`user` is accepted and ignored). */
export function parseEmbeddingsBody(body: Record<string, unknown>, maxChars: number, maxTexts: number): EmbeddingsRequest {
  onlyMembers(body, ["input", "model", "encoding_format", "dimensions", "user"]);
  const { input, model, encoding_format: format, dimensions } = body;
  if (typeof model !== "string" || model.trim() === "") throw bad("invalid_body", "model", '"model" is required: the served model\'s name');
  let texts: string[];
  if (typeof input === "string") texts = [parseQuery(input, maxChars, "input")];
  else if (Array.isArray(input)) {
    if (input.length === 0) throw bad("invalid_body", "input", '"input" must not be empty');
    if (input.length > maxTexts) throw bad("batch_too_large", "input", `at most ${maxTexts} inputs per request`);
    // Token arrays (OpenAI accepts them for its own tokenizers) mean nothing to this model.
    texts = input.map((t, i) => parseQuery(t, maxChars, `input[${i}]`));
  } else {
    throw bad(input === undefined ? "missing_query" : "invalid_query", "input", '"input" must be a string or an array of strings');
  }
  if (format !== undefined && format !== null && format !== "float" && format !== "base64") {
    throw bad("invalid_encoding_format", "encoding_format", '"encoding_format" must be "float" or "base64"');
  }
  if (dimensions !== undefined && dimensions !== null && dimensions !== EMBEDDING_DIM) {
    throw bad("unsupported_dimensions", "dimensions", `"dimensions" must be ${EMBEDDING_DIM}: this model's embeddings cannot be shortened`);
  }
  return { texts, model, encoding: format === "base64" ? "base64" : "float" };
}

/** A vector as OpenAI's base64 encoding: little-endian float32. */
export function float32Base64(v: Float32Array): string {
  const bytes = new Uint8Array(v.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i], true);
  return toBase64(bytes);
}
