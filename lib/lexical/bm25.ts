// BM25 (Robertson–Spärck Jones, with Lucene's non-negative idf), the one scoring
// formula of the lexical index: the build orders postings by it, the Worker
// ranks candidates with it and re-scores records with it.

/** Query-time scoring knobs of the lexical index, one line each (stored in the lexicon head, format.ts §9). */
export interface Bm25Params {
  /** Term-frequency saturation: how much a second occurrence adds (0: none; large: linear). 1.2 is the common default. */
  k1: number;
  /** Length normalisation: 0 ignores document length, 1 divides by it fully. 0.75 is the common default. */
  b: number;
}

export const DEFAULT_BM25: Bm25Params = { k1: 1.2, b: 0.75 };

/** Inverse document frequency of a term in `df` of `n` items; never negative, so a common word cannot lower a score. */
export function idf(n: number, df: number): number {
  return Math.log(1 + (n - df + 0.5) / (df + 0.5));
}

/** One term's contribution for an item that has it `tf` times among `dl` terms, the corpus averaging `avgdl`. */
export function termScore(p: Bm25Params, idfValue: number, tf: number, dl: number, avgdl: number): number {
  if (tf <= 0) return 0;
  const norm = p.k1 * (1 - p.b + (p.b * dl) / (avgdl || 1));
  return (idfValue * tf * (p.k1 + 1)) / (tf + norm);
}

/** FNV-1a of a term's UTF-8 bytes: which lexicon part holds it (terms are sorted by it). */
export function termHash(term: string): number {
  let h = 0x811c9dc5;
  const bytes = utf8.encode(term);
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const utf8 = new TextEncoder();

/** Term frequencies of a token list. */
export function termCounts(tokens: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tokens) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}
