// The lexical index's values (format.ts, sections 9–11), from the items' texts
// and record keys: every item analysed by the one tokenizer, each term's
// postings in impact order, the first `prefix` of them inline in the term's
// lexicon part, the rest in a tail; parts cut by term hash, content-defined.
// Or, over a base version's lexicon, a delta (format.ts §12): the base's values
// kept as they are, and one small in-memory value for what the corpus changed.
import {
  blobToText,
  compareItemKeys,
  encodeLexiconDelta,
  encodeLexiconHead,
  encodeLexiconPart,
  encodePostingsTail,
  hex,
  ITEM_KEY_BYTES,
  MAX_DL,
  MAX_TF,
  POSTING_BYTES,
  SHARD_HASH_BYTES,
  splitParts,
  type LexiconPartInput,
  type Postings,
} from "../../../lib/index/format.ts";
import { DEFAULT_BM25, idf, termHash, termScore, type Bm25Params } from "../../../lib/lexical/bm25.ts";
import { tokenize } from "../../../lib/lexical/tokenize.ts";
import type { ManifestLexiconDelta } from "../../../lib/index/manifest.ts";
import type { LexicalBase } from "./lexical-base.ts";
import { KeyMap } from "../key-map.ts";
import { keepInMemory, textBlob, type KeepValue, type TextBlob } from "./text-blob.ts";

/**
 * Postings a term keeps inline in its part: a query reads at most this many
 * per term, however frequent the term. The bench (--hybrid) reports the recall
 * of this prefix against whole lists (docs/bench-hybrid.md).
 */
export const DEFAULT_LEXICAL_PREFIX = 128;
/** Stored bytes a lexicon part aims at: a query reads one part per distinct term. */
export const PART_TARGET_BYTES = 4096;
/**
 * Terms a part holds on average, at least: the head, in isolate memory, costs
 * 24 bytes a part, and a large corpus's long inline lists would otherwise cut
 * parts of a few terms each and spend its in-isolate budget (docs/decisions.md#lexicon-parts).
 */
const MIN_TERMS_PER_PART = 8;
/** A part is cut before it passes this, whatever the hashes say (far above one frequent term's whole inline prefix). */
const PART_MAX_BYTES = 64 * 1024;
/** Per-term bytes in a part besides its postings: hash, df, two starts, and its text (~8). */
const TERM_FIXED_BYTES = 24;

/**
 * Decoded bytes a lexicon delta (format.ts §12) may reach: isolates hold it
 * whole and every deploy rewrites it, so past this a build rewrites the main
 * lexicon instead (a merge), and the next delta starts empty.
 */
export const LEXICAL_DELTA_MAX_BYTES = 2 * 1024 * 1024;

export interface LexicalValues {
  head: TextBlob[];
  parts: TextBlob[];
  tails: TextBlob[];
  /** The delta's stored parts (empty without one) and what it holds. */
  delta: TextBlob[];
  deltaInfo: Omit<ManifestLexiconDelta, "parts"> | null;
  /** Main-lexicon terms and postings. */
  terms: number;
  postings: number;
  cut: number;
  /** Decoded bytes of the head and the delta: what an isolate holds. */
  headBytes: number;
}

export interface LexicalOptions {
  prefix?: number;
  bm25?: Bm25Params;
  /** The cut modulus to keep (a base version's), so an extended build cuts where its base did. */
  cut?: number;
  /** A base version's main lexicon: kept, with a delta, while the delta fits `deltaMaxBytes`. */
  base?: LexicalBase;
  deltaMaxBytes?: number;
  /** What becomes of each lexicon part and postings tail as it is made (text-blob.ts); kept in memory when absent. */
  keep?: KeepValue;
}

/** Scrambles a term hash so that cuts do not follow the sort order's bits. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function postingsOf(rows: Uint32Array, tfs: Uint32Array, order: number[], from: number, to: number, keyBytes: Uint8Array, dl: Uint32Array): Postings {
  const n = to - from;
  const p: Postings = { count: n, keys: new Uint8Array(n * ITEM_KEY_BYTES), dl: new Uint16Array(n), tf: new Uint8Array(n) };
  for (let j = 0; j < n; j++) {
    const i = order[from + j];
    const row = rows[i];
    p.keys.set(keyBytes.subarray(row * ITEM_KEY_BYTES, (row + 1) * ITEM_KEY_BYTES), j * ITEM_KEY_BYTES);
    p.dl[j] = Math.min(dl[row], MAX_DL);
    p.tf[j] = Math.min(tfs[i], MAX_TF);
  }
  return p;
}

/** A term's postings: its items' rows, ascending, and the term's count in each. */
interface List {
  rows: Uint32Array;
  tfs: Uint32Array;
}
type Entry = LexiconPartInput["terms"][number];

/**
 * Every term's postings, in three flat arrays rather than two JS arrays a term:
 * at 10M items those arrays' slots and spare capacity were the lexicon stage's
 * peak. Term t's postings are rows and tfs from start[t] to start[t + 1].
 */
interface Inverted {
  terms: Map<string, number>;
  start: Uint32Array;
  rows: Uint32Array;
  tfs: Uint32Array;
  /** Each item's length in terms. */
  dl: Uint32Array;
  total: number;
}

function listOf(inv: Inverted, t: number): List {
  return { rows: inv.rows.subarray(inv.start[t], inv.start[t + 1]), tfs: inv.tfs.subarray(inv.start[t], inv.start[t + 1]) };
}

/** A Uint32Array that grows by doubling, for the first pass's pairs. */
class GrowingU32 {
  a = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = v;
  }
}

/**
 * Every item analysed (each term's items and counts among `rows`, default all;
 * each item's length in terms): one pass lists each item's (term, count) pairs,
 * a second places them by term, rows ascending within a term.
 */
function invert(texts: readonly string[], rows?: ReadonlySet<number>): Inverted {
  const dl = new Uint32Array(texts.length);
  const terms = new Map<string, number>();
  const pairTerm = new GrowingU32();
  const pairTf = new GrowingU32();
  const pairsEnd = new Uint32Array(texts.length);
  const df = new GrowingU32();
  let total = 0;
  texts.forEach((text, row) => {
    const tokens = tokenize(text);
    dl[row] = tokens.length;
    total += tokens.length;
    if (!rows || rows.has(row)) {
      const counts = new Map<string, number>();
      for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [t, tf] of counts) {
        let id = terms.get(t);
        if (id === undefined) {
          terms.set(t, (id = terms.size));
          df.push(0);
        }
        df.a[id]++;
        pairTerm.push(id);
        pairTf.push(tf);
      }
    }
    pairsEnd[row] = pairTerm.length;
  });
  const start = new Uint32Array(terms.size + 1);
  for (let t = 0; t < terms.size; t++) start[t + 1] = start[t] + df.a[t];
  const at = start.slice(0, terms.size);
  const out = { rows: new Uint32Array(pairTerm.length), tfs: new Uint32Array(pairTerm.length) };
  for (let row = 0, p = 0; row < texts.length; row++) {
    for (; p < pairsEnd[row]; p++) {
      const i = at[pairTerm.a[p]]++;
      out.rows[i] = row;
      out.tfs[i] = pairTf.a[p];
    }
  }
  return { terms, start, ...out, dl, total };
}

/** One term's entry: its postings in impact order, the first `prefix` inline, the rest a tail blob (pushed to `tails`). */
function termEntry(text: string, hash: number, list: List, ctx: { n: number; avgdl: number; dl: Uint32Array; keyBytes: Uint8Array; prefix: number; bm25: Bm25Params; tails: TextBlob[]; keep: KeepValue }): Entry {
  const { rows, tfs } = list;
  const df = rows.length;
  const w = idf(ctx.n, df);
  const impact = Float64Array.from(rows, (row, i) => termScore(ctx.bm25, w, tfs[i], ctx.dl[row], ctx.avgdl));
  const order = Array.from(rows, (_, i) => i).sort((a, b) => impact[b] - impact[a] || compareItemKeys(ctx.keyBytes, rows[a], ctx.keyBytes, rows[b]));
  const head = Math.min(df, ctx.prefix);
  let tail: Entry["tail"] = null;
  if (df > head) {
    const blob = ctx.keep(textBlob(blobToText(encodePostingsTail({ termHash: hash, postings: postingsOf(rows, tfs, order, head, df, ctx.keyBytes, ctx.dl) }))));
    ctx.tails.push(blob);
    tail = { bytes: blob.ref.bytes, count: df - head, sha: Buffer.from(blob.ref.sha256.slice(0, SHARD_HASH_BYTES * 2), "hex") };
  }
  return { text, hash, df, postings: postingsOf(rows, tfs, order, 0, head, ctx.keyBytes, ctx.dl), tail };
}

/** Terms (sorted by hash) into parts: a cut after a term whose mixed hash is 0 mod `cut`, or before PART_MAX_BYTES; never between equal hashes. */
function cutParts(entries: Entry[], cut: number): Entry[][] {
  const groups: Entry[][] = [];
  let cur: Entry[] = [];
  let curBytes = 0;
  const close = () => {
    groups.push(cur);
    cur = [];
    curBytes = 0;
  };
  entries.forEach((e, i) => {
    const bytes = TERM_FIXED_BYTES + e.postings.count * POSTING_BYTES;
    const sameHashAsPrevious = cur.length > 0 && cur[cur.length - 1].hash === e.hash;
    if (cur.length && !sameHashAsPrevious && curBytes + bytes > PART_MAX_BYTES) close();
    cur.push(e);
    curBytes += bytes;
    const next = entries[i + 1];
    if (next && next.hash !== e.hash && mix(e.hash) % cut === 0) close();
  });
  if (cur.length) groups.push(cur);
  return groups;
}

export function buildLexical(texts: readonly string[], keyBytes: Uint8Array, o: LexicalOptions = {}): LexicalValues {
  return (o.base && deltaLexical(o.base, texts, keyBytes, o)) || mainLexical(texts, keyBytes, o);
}

function sortedTerms(inv: Inverted): Array<{ text: string; hash: number; id: number }> {
  return [...inv.terms].map(([text, id]) => ({ text, hash: termHash(text), id })).sort((a, b) => a.hash - b.hash || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** The base's main lexicon kept and a delta over it, or null when the base does not fit (other BM25 or prefix) or the delta would pass its budget. */
function deltaLexical(base: LexicalBase, texts: readonly string[], keyBytes: Uint8Array, o: LexicalOptions): LexicalValues | null {
  const prefix = o.prefix ?? DEFAULT_LEXICAL_PREFIX;
  const bm25 = o.bm25 ?? DEFAULT_BM25;
  if (base.prefix !== prefix || base.k1 !== Math.fround(bm25.k1) || base.b !== Math.fround(bm25.b)) return null;
  const present = KeyMap.rows(keyBytes);
  const added = new Set<number>();
  for (let row = 0; row < texts.length; row++) if (!base.keys.has(keyBytes, row * ITEM_KEY_BYTES)) added.add(row);
  const removed: string[] = [];
  for (let i = 0; i < base.keys.size; i++) if (!present.has(base.keys.key(i))) removed.push(hex(base.keys.key(i), 0, ITEM_KEY_BYTES));
  // Hex order is the keys' bytewise order.
  removed.sort();
  const inv = invert(texts, added);
  const { dl, total } = inv;
  const n = texts.length;
  if (inv.terms.size === 0 && removed.length === 0 && n === base.items && total === base.totalTerms) return keptWhole(base);
  const ctx = { n, avgdl: n ? total / n : 0, dl, keyBytes, prefix: Infinity, bm25, tails: [] as TextBlob[], keep: o.keep ?? keepInMemory };
  const entries = sortedTerms(inv).map(({ text, hash, id }) => termEntry(text, hash, listOf(inv, id), ctx));
  const deltaItems = [...added].filter((row) => dl[row] > 0).length;
  const bytes = encodeLexiconDelta({
    items: n,
    totalTerms: total,
    deltaItems,
    removed: Buffer.from(removed.join(""), "hex"),
    part: { terms: entries },
  });
  if (bytes.length > (o.deltaMaxBytes ?? LEXICAL_DELTA_MAX_BYTES)) return null;
  const postings = entries.reduce((s, e) => s + e.df, 0);
  return {
    head: base.head,
    parts: base.parts,
    tails: base.tails,
    delta: splitParts(bytes).map(textBlob),
    deltaInfo: { items: deltaItems, removed: removed.length, terms: entries.length, postings },
    terms: base.manifest.terms,
    postings: base.postings,
    cut: base.manifest.cut,
    headBytes: base.headBytes + bytes.length,
  };
}

/** The base's lexicon as it is: the corpus changed nothing it holds. */
function keptWhole(base: LexicalBase): LexicalValues {
  return { head: base.head, parts: base.parts, tails: base.tails, delta: [], deltaInfo: null, terms: base.manifest.terms, postings: base.postings, cut: base.manifest.cut, headBytes: base.headBytes };
}

/** A whole lexicon over every item. */
function mainLexical(texts: readonly string[], keyBytes: Uint8Array, o: LexicalOptions): LexicalValues {
  const prefix = o.prefix ?? DEFAULT_LEXICAL_PREFIX;
  const bm25 = o.bm25 ?? DEFAULT_BM25;
  const n = texts.length;
  const inv = invert(texts);
  const { dl, total } = inv;
  const ctx = { n, avgdl: n ? total / n : 0, dl, keyBytes, prefix, bm25, tails: [] as TextBlob[], keep: o.keep ?? keepInMemory };
  const entries = sortedTerms(inv).map(({ text, hash, id }) => termEntry(text, hash, listOf(inv, id), ctx));
  const postings = entries.reduce((s, e) => s + e.df, 0);
  // The cut modulus: the power of two nearest the terms a part should hold, so
  // small changes to the corpus leave it, and the cuts, where they were; at
  // least MIN_TERMS_PER_PART, so the head stays small however long the lists.
  const inlineBytes = entries.reduce((s, e) => s + TERM_FIXED_BYTES + e.postings.count * POSTING_BYTES, 0);
  const perTerm = entries.length ? inlineBytes / entries.length : 1;
  const cut = o.cut ?? o.base?.manifest.cut ?? 2 ** Math.max(Math.log2(MIN_TERMS_PER_PART), Math.round(Math.log2(Math.max(1, PART_TARGET_BYTES / perTerm))));
  const groups = cutParts(entries, cut);
  const parts = groups.map((g) => ctx.keep(textBlob(blobToText(encodeLexiconPart({ terms: g })))));
  const partHashes = new Uint8Array(parts.length * SHARD_HASH_BYTES);
  parts.forEach((p, i) => partHashes.set(Buffer.from(p.ref.sha256.slice(0, SHARD_HASH_BYTES * 2), "hex"), i * SHARD_HASH_BYTES));
  const headBytes = encodeLexiconHead({
    parts: parts.length,
    items: n,
    prefix,
    totalTerms: total,
    k1: bm25.k1,
    b: bm25.b,
    // The first part starts at hash 0, so every term has a part to look in.
    firstHash: Uint32Array.from(groups, (g, i) => (i === 0 ? 0 : g[0].hash)),
    partBytes: Uint32Array.from(parts, (p) => p.ref.bytes),
    partHashes,
  });
  return { head: splitParts(headBytes).map(textBlob), parts, tails: ctx.tails, delta: [], deltaInfo: null, terms: entries.length, postings, cut, headBytes: headBytes.length };
}

/** Every value of a lexical index, as written and uploaded. */
export function lexicalBlobs(l: LexicalValues): TextBlob[] {
  return [...l.head, ...l.delta, ...l.parts, ...l.tails];
}
