// Query-time lexical search over the lexicon (format.ts, sections 9–11): the
// query's terms name their parts from the head in memory; the parts, read in
// round 1, give each term's df and the top of its postings; candidates are
// ranked by BM25 summed over those postings, and round 2 re-scores them from
// their records' texts with the same tokenizer, exactly. A delta (format.ts
// §12, in memory) adds its postings to each term's and hides the items the
// corpus no longer has.
import {
  decodeLexiconPart,
  decodePostingsTail,
  findLexiconTerm,
  hex,
  isRemoved,
  itemKey,
  ITEM_KEY_BYTES,
  lexiconPartKey,
  lexiconPartOf,
  SHARD_HASH_BYTES,
  tailKey,
  termPrefix,
  termTail,
  type LexiconDelta,
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
  /** What a delta build added to the head's lexicon, or null. */
  delta: LexiconDelta | null;
  bm25: Bm25Params;
  /** BM25's N and avgdl: the whole corpus's, the delta's figures when there is one. */
  items: number;
  avgdl: number;
}

export function lexicalIndex(head: LexiconHead, delta: LexiconDelta | null = null): LexicalIndex {
  const items = delta ? delta.items : head.items;
  const total = delta ? delta.totalTerms : head.totalTerms;
  return { head, delta, bm25: { k1: head.k1, b: head.b }, items, avgdl: items ? total / items : 0 };
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
    budget: "lexicon",
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

const NO_POSTINGS: Postings = { count: 0, keys: new Uint8Array(0), dl: new Uint16Array(0), tf: new Uint8Array(0) };

function joinPostings(a: Postings, b: Postings): Postings {
  if (b.count === 0) return a;
  if (a.count === 0) return b;
  const keys = new Uint8Array((a.count + b.count) * ITEM_KEY_BYTES);
  keys.set(a.keys);
  keys.set(b.keys, a.keys.length);
  const dl = new Uint16Array(a.count + b.count);
  dl.set(a.dl);
  dl.set(b.dl, a.count);
  const tf = new Uint8Array(a.count + b.count);
  tf.set(a.tf);
  tf.set(b.tf, a.count);
  return { count: a.count + b.count, keys, dl, tf };
}

function tailRef(p: LexiconPart, r: number, t: QueryTerm): BlobRef<PostingsTail> {
  return {
    key: tailKey(p, r),
    bytes: p.tailBytes[r],
    sha: hex(p.tailHashes, r * SHARD_HASH_BYTES, (r + 1) * SHARD_HASH_BYTES),
    what: `postings tail ${tailKey(p, r)} of "${t.term}"`,
    budget: "lexicon",
    decode(bytes) {
      const tail = decodePostingsTail(bytes);
      if (tail.termHash !== t.hash || tail.postings.count !== p.tailCount[r]) throw new Error(`not the tail of "${t.term}"`);
      return tail;
    },
  };
}

/** Each query term the index knows: df and prefix from its main part, plus the delta's postings when there is a delta. */
export function matchTerms(lex: LexicalIndex, terms: QueryTerm[], parts: Map<number, LexiconPart>): TermMatch[] {
  const out: TermMatch[] = [];
  const delta = lex.delta;
  for (const t of terms) {
    const p = parts.get(t.part);
    const i = p ? findLexiconTerm(p, t.term, t.hash) : -1;
    const d = delta ? findLexiconTerm(delta.part, t.term, t.hash) : -1;
    if (i < 0 && d < 0) continue;
    const df = Math.min(lex.items, (i >= 0 ? p!.df[i] : 0) + (d >= 0 ? delta!.part.df[d] : 0));
    const r = i >= 0 ? termTail(p!, i) : -1;
    out.push({
      term: t.term,
      df,
      idf: idf(lex.items, df),
      prefix: joinPostings(i >= 0 ? termPrefix(p!, i) : NO_POSTINGS, d >= 0 ? termPrefix(delta!.part, d) : NO_POSTINGS),
      tail: r < 0 ? null : tailRef(p!, r, t),
    });
  }
  return out;
}

/**
 * Item keys by BM25 summed over the postings read (each term's prefix, and its
 * tail when given), best first, at most `depth`; items a delta removed are
 * skipped. An item past a term's prefix
 * lacks that term's share here; round 2's exact score restores it.
 */
export function rankPostings(lex: LexicalIndex, matches: TermMatch[], depth: number, tails: Array<Postings | null> = []): Array<{ key: string; score: number }> {
  const scores = new Map<string, number>();
  const delta = lex.delta;
  const add = (m: TermMatch, p: Postings) => {
    for (let e = 0; e < p.count; e++) {
      if (delta && isRemoved(delta, p.keys, e)) continue;
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
