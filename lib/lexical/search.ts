// Query-time lexical search over the lexicon (format.ts, sections 9–11): the
// query's terms name their parts from the head in memory; the parts, read in
// round 1, give each term's df and the top of its postings; candidates are
// ranked by BM25 summed over those postings, and round 2 re-scores them from
// their records' texts with the same tokenizer, exactly.
import {
  decodeLexiconPart,
  decodePostingsTail,
  findLexiconTerm,
  hex,
  itemKey,
  lexiconPartKey,
  lexiconPartOf,
  SHARD_HASH_BYTES,
  tailKey,
  termPrefix,
  termTail,
  type LexiconHead,
  type LexiconPart,
  type Postings,
  type PostingsTail,
} from "../index/format.ts";
import type { BlobRef } from "../index/fetch.ts";
import { idf, termHash, termScore, type Bm25Params } from "./bm25.ts";
import { tokenize } from "./tokenize.ts";

export interface LexicalIndex {
  head: LexiconHead;
  bm25: Bm25Params;
  avgdl: number;
}

export function lexicalIndex(head: LexiconHead): LexicalIndex {
  return { head, bm25: { k1: head.k1, b: head.b }, avgdl: head.items ? head.totalTerms / head.items : 0 };
}

/** A query's distinct terms, in order, and the part each one is in (-1: the index has no part for it). */
export interface QueryTerm {
  term: string;
  hash: number;
  part: number;
}

export function queryTerms(lex: LexicalIndex, text: string): QueryTerm[] {
  const seen = new Set<string>();
  const out: QueryTerm[] = [];
  for (const term of tokenize(text)) {
    if (seen.has(term)) continue;
    seen.add(term);
    const hash = termHash(term);
    out.push({ term, hash, part: lexiconPartOf(lex.head, hash) });
  }
  return out;
}

export function partRef(lex: LexicalIndex, part: number): BlobRef<LexiconPart> {
  const key = lexiconPartKey(lex.head, part);
  return {
    key,
    bytes: lex.head.partBytes[part],
    sha: hex(lex.head.partHashes, part * SHARD_HASH_BYTES, (part + 1) * SHARD_HASH_BYTES),
    what: `lexicon part ${key} (part ${part})`,
    decode: decodeLexiconPart,
  };
}

/** A query term the index knows: its df, idf, inline postings and (when longer) the tail that continues them. */
export interface TermMatch {
  term: string;
  df: number;
  idf: number;
  prefix: Postings;
  tail: BlobRef<PostingsTail> | null;
}

/** The refs of the distinct parts the terms are in, in term order. */
export function partsFor(lex: LexicalIndex, terms: QueryTerm[]): number[] {
  return [...new Set(terms.filter((t) => t.part >= 0).map((t) => t.part))];
}

export function matchTerms(lex: LexicalIndex, terms: QueryTerm[], parts: Map<number, LexiconPart>): TermMatch[] {
  const out: TermMatch[] = [];
  for (const t of terms) {
    const p = parts.get(t.part);
    if (!p) continue;
    const i = findLexiconTerm(p, t.term, t.hash);
    if (i < 0) continue;
    const r = termTail(p, i);
    const df = p.df[i];
    out.push({
      term: t.term,
      df,
      idf: idf(lex.head.items, df),
      prefix: termPrefix(p, i),
      tail:
        r < 0
          ? null
          : {
              key: tailKey(p, r),
              bytes: p.tailBytes[r],
              sha: hex(p.tailHashes, r * SHARD_HASH_BYTES, (r + 1) * SHARD_HASH_BYTES),
              what: `postings tail ${tailKey(p, r)} of "${t.term}"`,
              decode(bytes) {
                const tail = decodePostingsTail(bytes);
                if (tail.termHash !== t.hash || tail.postings.count !== p.tailCount[r]) throw new Error(`not the tail of "${t.term}"`);
                return tail;
              },
            },
    });
  }
  return out;
}

/**
 * Item keys by BM25 summed over the postings read (each term's prefix, and its
 * tail when given), best first, at most `depth`. An item past a term's prefix
 * lacks that term's share here; round 2's exact score restores it.
 */
export function rankPostings(lex: LexicalIndex, matches: TermMatch[], depth: number, tails: Array<Postings | null> = []): Array<{ key: string; score: number }> {
  const scores = new Map<string, number>();
  const add = (m: TermMatch, p: Postings) => {
    for (let e = 0; e < p.count; e++) {
      const key = itemKey(p.keys, e);
      scores.set(key, (scores.get(key) ?? 0) + termScore(lex.bm25, m.idf, p.tf[e], p.dl[e], lex.avgdl));
    }
  };
  matches.forEach((m, i) => {
    add(m, m.prefix);
    const tail = tails[i];
    if (tail) add(m, tail);
  });
  return [...scores]
    .map(([key, score]) => ({ key, score }))
    .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, depth);
}

/** The exact BM25 of a text for the matched terms: the text analysed by the build's tokenizer. */
export function scoreText(lex: LexicalIndex, matches: TermMatch[], text: string): number {
  if (matches.length === 0) return 0;
  const tokens = tokenize(text);
  let s = 0;
  for (const m of matches) {
    let tf = 0;
    for (const t of tokens) if (t === m.term) tf++;
    s += termScore(lex.bm25, m.idf, tf, tokens.length, lex.avgdl);
  }
  return s;
}
