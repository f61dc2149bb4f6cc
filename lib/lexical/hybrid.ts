// Search in one of three modes over one index, the same code in the Worker and
// in Node (BlobSource):
//   semantic — the vector search (lib/index/reader.ts), unchanged;
//   lexical  — BM25 over the lexicon (search.ts);
//   hybrid   — both, fused (fusion.ts).
// Lexical and hybrid take the same two KV rounds as semantic: round 1 reads the
// vector shards and the query terms' lexicon parts together (SharedRound);
// round 2 reads the records of the union of both candidate lists, and every
// candidate gets an exact cosine (its int8 vector) and an exact BM25 (its text
// re-analysed, df and avgdl from the index) before the lists are fused.
import type { CompiledFilter } from "../filter/compile.ts";
import { matches as filterMatches } from "../filter/match.ts";
import { encodeValue, type FilterField } from "../filter/values.ts";
import { emptyStats, fetchBlobs, fetchRecords, IndexError, type SearchStats } from "../index/fetch.ts";
import type { ItemRecord, LexiconPart, Postings } from "../index/format.ts";
import { searchVector, vectorCandidates, type IndexHandle, type SearchHit, type SearchOptions } from "../index/reader.ts";
import { SharedRound } from "../index/shared-round.ts";
import { dotInt8 } from "../index/vector.ts";
import { fuseRrf, fuseScores, type Fusion } from "./fusion.ts";
import { matchTerms, partRef, partsFor, queryTerms, rankPostings, scoreText, type LexicalIndex, type TermMatch } from "./search.ts";

export type SearchMode = "semantic" | "lexical" | "hybrid";
export const SEARCH_MODES: readonly SearchMode[] = ["semantic", "lexical", "hybrid"];

/**
 * What a query gets when it names no mode, on an index with a lexical index
 * (one without answers semantic). Chosen on STS-B retrieval and the 50k
 * headlines' known-item set: docs/bench-hybrid.md.
 */
export const DEFAULT_MODE: SearchMode = "hybrid";
export const DEFAULT_FUSION: Fusion = "score";
/**
 * Score fusion's weight of the normalised cosine (the normalised BM25 gets the
 * rest). Swept on both visible sets (docs/bench-hybrid.md): the weight with the
 * best mean MRR@10 of the two, not the best of either — STS-B alone wants more
 * cosine, the rare-word known items more BM25.
 */
export const DEFAULT_SEMANTIC_WEIGHT = 0.7;
/** Lexical candidates re-scored in round 2: at least this many, or 3k. */
export const LEXICAL_DEPTH = 30;
/** With a filter, lexical candidates are checked on their records' metadata in round 2: read this many times more. */
const FILTERED_DEPTH_FACTOR = 4;

/** Query-time knobs of a search in any mode, one line each (SearchOptions adds the vector side's). */
export interface ModeOptions extends SearchOptions {
  mode?: SearchMode;
  /** How hybrid merges its lists: score fusion (default) or reciprocal ranks. */
  fusion?: Fusion;
  /** Score fusion's weight of the normalised cosine, 0..1. */
  semanticWeight?: number;
  /** Lexical candidates re-scored in round 2, at most. */
  lexicalDepth?: number;
  /** Read each term's whole postings list (tails too): exhaustive BM25, at one more round. */
  wholeLists?: boolean;
}

export interface ModeHit extends SearchHit {
  /** The exact cosine and BM25 of the hit; lexical is null in semantic mode, which reads no lexicon. */
  scores: { semantic: number; lexical: number | null };
}

export interface LexicalStats {
  /** The query's terms as the tokenizer made them, and those the index has. */
  terms: string[];
  matched: string[];
  /** Lexicon parts and postings tails read, postings scored, candidates re-scored. */
  parts: number;
  tails: number;
  postings: number;
  candidates: number;
}

export interface ModeResult {
  mode: SearchMode;
  fusion: Fusion | null;
  results: ModeHit[];
  stats: SearchStats & { lexical?: LexicalStats };
  /** Why a lexical query answered nothing (every word a stop word or unknown). */
  reason?: string;
}

/** A mode the index cannot serve (no lexical index): the client's to change, not a failure. */
export class ModeUnavailableError extends Error {
  readonly code = "mode_unavailable";
  constructor(mode: SearchMode) {
    super(`mode "${mode}" needs a lexical index, and this index was built without one; use mode "semantic" or rebuild`);
    this.name = "ModeUnavailableError";
  }
}

export function defaultMode(h: IndexHandle | null): SearchMode {
  return h?.lexical ? DEFAULT_MODE : "semantic";
}

interface Candidate {
  key: string;
  record: Pick<ItemRecord, "id" | "text" | "meta">;
  semantic: number;
  lexical: number;
}

/** Round 2: every candidate's record and exact cosine, from the resident copy or one KV read. */
async function readCandidates(h: IndexHandle, q: Float32Array, keys: string[], stats: SearchStats): Promise<Candidate[]> {
  const resident = h.resident ?? null;
  const dim = h.routing.dim;
  const out: Candidate[] = [];
  const fetchKeys: string[] = [];
  for (const key of keys) {
    const g = resident ? resident.find(key) : -1;
    if (g < 0) {
      fetchKeys.push(key);
      continue;
    }
    let record: Pick<ItemRecord, "id" | "text" | "meta">;
    try {
      record = resident!.record(g);
    } catch (e) {
      throw new IndexError("index_corrupt", `resident record ${g}: ${(e as Error).message}`);
    }
    stats.bytes += resident!.recordBytes(g);
    stats.resident++;
    out.push({ key, record, semantic: resident!.score(q, g), lexical: 0 });
  }
  const fetched = fetchKeys.length ? await fetchRecords(h.source, h.cache, fetchKeys, dim, stats) : [];
  fetched.forEach((r, i) => out.push({ key: fetchKeys[i], record: r.record, semantic: dotInt8(q, r.codes, 0, dim) * r.record.s, lexical: 0 }));
  stats.records += keys.length;
  return out;
}

function passes(filter: CompiledFilter, fields: FilterField[], meta: ItemRecord["meta"]): boolean {
  return filterMatches(filter, (f) => encodeValue(fields[f], meta?.[fields[f].name]) ?? NaN);
}

function byScoreThenId(a: { score: number; id: string }, b: { score: number; id: string }): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Round 1 (and, for whole lists, the tails): the vector candidates and the query terms' postings, read together. */
async function firstRound(h: IndexHandle & { lexical: LexicalIndex }, round: SharedRound, mode: SearchMode, query: { text: string; vector: Float32Array }, o: ModeOptions) {
  const lex = h.lexical;
  const shared: IndexHandle = { ...h, source: round };
  const vecStats = emptyStats();
  const lexStats = emptyStats();
  const terms = queryTerms(lex, query.text);
  const partIds = partsFor(lex, terms);
  // Both reads start before either awaits, so they go out as one.
  const vectorKeys = mode === "hybrid" ? vectorCandidates(shared, query.vector, o, vecStats) : Promise.resolve([] as string[]);
  const parts = fetchBlobs<LexiconPart>(round, h.cache, partIds.map((p) => partRef(lex, p)), lexStats);
  const [semanticKeys, partValues] = await Promise.all([vectorKeys, parts]);
  const matched: TermMatch[] = matchTerms(lex, terms, new Map(partIds.map((p, i) => [p, partValues[i]])));
  let tails: Array<Postings | null> = [];
  if (o.wholeLists) {
    const withTail = matched.filter((m) => m.tail);
    const read = await fetchBlobs(round, h.cache, withTail.map((m) => m.tail!), lexStats);
    tails = matched.map((m) => (m.tail ? read[withTail.indexOf(m)].postings : null));
  }
  return { shared, vecStats, lexStats, terms, partIds, semanticKeys, matched, tails };
}

function noMatchReason(terms: number, matched: number): string | undefined {
  if (matched > 0) return undefined;
  return terms === 0 ? "the query has no searchable words: every word is a stop word" : "none of the query's words is in the index";
}

/** The pool ranked by the mode: BM25 alone (items with a query term), or both scores fused. */
function rankPool(pool: Candidate[], mode: SearchMode, fusion: Fusion | null, o: ModeOptions): ModeHit[] {
  let scored: Array<Candidate & { score: number; id: string }>;
  if (mode === "lexical") scored = pool.filter((c) => c.lexical > 0).map((c) => ({ ...c, id: c.record.id, score: c.lexical }));
  else {
    const fused = fusion === "rrf" ? fuseRrf(pool) : fuseScores(pool, o.semanticWeight ?? DEFAULT_SEMANTIC_WEIGHT);
    scored = pool.map((c, i) => ({ ...c, id: c.record.id, score: fused[i] }));
  }
  scored.sort(byScoreThenId);
  return scored.slice(0, o.k).map((c) => ({ id: c.record.id, score: c.score, text: c.record.text, meta: c.record.meta ?? {}, scores: { semantic: c.semantic, lexical: c.lexical } }));
}

export async function searchMode(h: IndexHandle, query: { text: string; vector: Float32Array }, o: ModeOptions): Promise<ModeResult> {
  const mode = o.mode ?? defaultMode(h);
  if (mode === "semantic") {
    const { results, stats } = await searchVector(h, query.vector, o);
    return { mode, fusion: null, results: results.map((r) => ({ ...r, scores: { semantic: r.score, lexical: null } })), stats };
  }
  const lex = h.lexical;
  if (!lex) throw new ModeUnavailableError(mode);
  const fusion = mode === "hybrid" ? (o.fusion ?? DEFAULT_FUSION) : null;
  const round = new SharedRound(h.source);
  const r1 = await firstRound({ ...h, lexical: lex }, round, mode, query, o);
  const depth = Math.max(o.lexicalDepth ?? Math.max(LEXICAL_DEPTH, 3 * o.k), o.k) * (o.filter ? FILTERED_DEPTH_FACTOR : 1);
  const ranked = rankPostings(lex, r1.matched, depth, r1.tails);
  const lexical: LexicalStats = {
    terms: r1.terms.map((t) => t.term),
    matched: r1.matched.map((m) => m.term),
    parts: r1.partIds.length,
    tails: r1.tails.filter(Boolean).length,
    postings: r1.matched.reduce((s, m, i) => s + m.prefix.count + (r1.tails[i]?.count ?? 0), 0),
    candidates: ranked.length,
  };
  const stats: ModeResult["stats"] = { ...emptyStats(), shards: r1.vecStats.shards, ...(r1.vecStats.filter ? { filter: r1.vecStats.filter } : {}), lexical };
  const reason = noMatchReason(r1.terms.length, r1.matched.length);
  // Round 2: the records of both lists' candidates, each scored both ways.
  let pool = mode === "lexical" && reason ? [] : await readCandidates(r1.shared, query.vector, [...new Set([...r1.semanticKeys, ...ranked.map((r) => r.key)])], stats);
  if (o.filter) {
    if (!h.filters) throw new Error("this index has no filterable fields"); // callers compile filters against h.filters
    const fields = h.filters.fields;
    pool = pool.filter((c) => passes(o.filter!, fields, c.record.meta));
  }
  for (const c of pool) c.lexical = scoreText(lex, r1.matched, c.record.text);
  for (const s of [r1.vecStats, r1.lexStats]) {
    stats.bytes += s.bytes;
    stats.fetchedBytes += s.fetchedBytes;
  }
  // The two sides of round 1 waited on the same read.
  stats.kvMs += Math.max(r1.vecStats.kvMs, r1.lexStats.kvMs);
  stats.roundTrips = round.rounds;
  return { mode, fusion, results: rankPool(pool, mode, fusion, o), stats, ...(mode === "lexical" && reason ? { reason } : {}) };
}
