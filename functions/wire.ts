// The API's own response types: what goes on the wire, in snake_case, mapped
// from lib's internals here and only here, so renaming an internal field never
// changes the contract. functions/openapi.ts describes the same shapes; the
// Worker tests validate every response they receive against it.
import type { SearchStats } from "../lib/index/reader.ts";
import type { LexicalStats, ModeHit, SearchMode } from "../lib/lexical/hybrid.ts";
import type { Fusion } from "../lib/lexical/fusion.ts";

/** The index version that answered, and how many items it holds. */
export interface WireIndex {
  version: string;
  items: number;
}

export interface WireHit {
  id: string;
  /** The ranking score: the cosine in semantic mode, BM25 in lexical mode, the fused score in hybrid mode. */
  score: number;
  /** Why it ranked: its exact (int8-rescored) cosine, and its BM25 (null in semantic mode, which reads no postings). */
  scores: { semantic: number; lexical: number | null };
  text: string;
  meta: Record<string, string | number | boolean | null>;
}

export interface WireFilterStats {
  plan: "scan" | "values" | "cells" | "probe";
  estimate: number;
  scored: number;
  matched: number;
}

/** What one search cost in index terms. */
export interface WireSearchStats {
  shards: number;
  records: number;
  resident_records: number;
  bytes: number;
  fetched_bytes: number;
  round_trips: number;
  kv_ms: number;
  filter?: WireFilterStats;
  /** Lexical and hybrid modes: the query's terms, those the index has, and what reading them cost. */
  lexical?: WireLexicalStats;
}

export interface WireLexicalStats {
  /** The query's terms as the tokenizer made them (stems, stop words dropped). */
  terms: string[];
  /** Those the index has. */
  matched: string[];
  /** Lexicon parts and postings tails read. */
  parts: number;
  tails: number;
  /** Postings scored, and candidates re-scored from their records. */
  postings: number;
  candidates: number;
}

/** How a query was answered: its mode, the fusion in hybrid mode, and why a lexical query found nothing. */
export interface WireMode {
  mode: SearchMode;
  fusion?: Fusion;
  reason?: string;
}

export interface WireTimings {
  embed_ms: number;
  search_ms: number;
  compute_ms: number;
  total_ms: number;
}

/** One query's answer: POST /v1/search with `q` or `vector`, and GET /v1/search. */
export interface SearchResponse {
  object: "search";
  /** The query text; null when the query was a vector. */
  query: string | null;
  k: number;
  filter?: unknown;
  mode: SearchMode;
  fusion?: Fusion;
  reason?: string;
  results: WireHit[];
  index: WireIndex;
  timings: WireTimings;
  stats: WireSearchStats;
}

/** One query's part of a batch answer (the batch's k and index are given once). */
export interface BatchAnswer {
  query: string | null;
  filter?: unknown;
  mode: SearchMode;
  fusion?: Fusion;
  reason?: string;
  results: WireHit[];
  timings: Pick<WireTimings, "search_ms" | "compute_ms">;
  stats: WireSearchStats;
}

/** POST /v1/search with `queries`: one answer per query, in order. */
export interface BatchSearchResponse {
  object: "search.batch";
  k: number;
  index: WireIndex;
  answers: BatchAnswer[];
  timings: Pick<WireTimings, "embed_ms" | "search_ms" | "total_ms">;
}

/** POST /v1/embed. */
export interface EmbedResponse {
  object: "embed";
  model: string;
  dim: number;
  vectors: number[][];
  usage: { tokens: number };
}

/** POST /v1/embeddings (OpenAI's shape). */
export interface EmbeddingsResponse {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface FieldDescription {
  name: string;
  type: "string" | "number" | "date";
  /** Smallest and largest value present (null when no item has one). */
  min: string | number | null;
  max: string | number | null;
  distinct?: number;
  values?: string[];
}

export interface FieldsResponse {
  object: "fields";
  fields: FieldDescription[];
  index: WireIndex;
}

export interface ExamplesResponse {
  object: "examples";
  examples: string[];
  index: WireIndex;
}

export interface HealthResponse {
  status: "ok";
  version: string;
  items: number;
  model: string;
  /** The rest is for admin keys (or PUBLIC_DIAGNOSTICS): internals a public caller never sees. */
  model_loads?: number;
  model_load_ms?: number;
  memory?: { wasm_heap_bytes: number; tensor_bytes: number };
  resident?: { state: string; items?: number; bytes?: number; budget_bytes?: number; load_ms?: number; error?: string };
}

/** The native error envelope. */
export interface ErrorResponse {
  error: { code: string; message: string; param?: string };
}

function wireLexical(l: LexicalStats): WireLexicalStats {
  return { terms: l.terms, matched: l.matched, parts: l.parts, tails: l.tails, postings: l.postings, candidates: l.candidates };
}

export function wireStats(s: SearchStats & { lexical?: LexicalStats }): WireSearchStats {
  return {
    shards: s.shards,
    records: s.records,
    resident_records: s.resident,
    bytes: s.bytes,
    fetched_bytes: s.fetchedBytes,
    round_trips: s.roundTrips,
    kv_ms: Math.round(s.kvMs * 100) / 100,
    ...(s.filter ? { filter: { plan: s.filter.plan, estimate: s.filter.estimate, scored: s.filter.scored, matched: s.filter.matched } } : {}),
    ...(s.lexical ? { lexical: wireLexical(s.lexical) } : {}),
  };
}

export function wireHit(h: ModeHit): WireHit {
  return { id: h.id, score: h.score, scores: { semantic: h.scores.semantic, lexical: h.scores.lexical }, text: h.text, meta: (h.meta ?? {}) as WireHit["meta"] };
}
