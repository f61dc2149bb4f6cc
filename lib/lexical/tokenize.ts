// The one tokenizer of the lexical index: the build indexes items with it, the
// Worker analyses queries and re-scores candidates with it, so a term means the
// same thing on both sides. Unicode NFKC (full-width digits, ligatures and
// compatibility forms fold to their plain letters), lower case, runs of letters
// and digits (marks stay with their letter), English stop words dropped, and
// Porter stems for Latin-letter words. Numbers and names stay tokens.
import { stemmer } from "stemmer";

/**
 * English stop words: Lucene's English set (the articles, conjunctions,
 * prepositions and pronouns that carry no topic), less its negations "no" and
 * "not", which change a sentence's meaning; plus the clitics a split on
 * apostrophes leaves behind ("man's" → man, s). A longer list (NLTK's) was
 * tried and dropped: it made BM25's STS-B retrieval worse, because in short
 * sentences words like "off", "over" or "he" are what tells two apart
 * (docs/decisions.md#stop-words).
 * A query made only of stop words has no lexical match (lexical mode answers an
 * empty list with a reason).
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  "a an and are as at be but by for if in into is it of on or such that the their then there these they this to was will with s t d ll m re ve".split(" "),
);

/** Tokens longer than this are cut: a term is a dictionary entry, not a payload. */
export const MAX_TERM_CHARS = 64;

const WORD = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu;
const LATIN_WORD = /^[a-z]+$/;

/** A word's term: its Porter stem when it is a Latin-letter word, itself otherwise (numbers, other scripts). */
function term(word: string): string {
  const w = word.length > MAX_TERM_CHARS ? word.slice(0, MAX_TERM_CHARS) : word;
  return LATIN_WORD.test(w) ? stemmer(w) : w;
}

/** The terms of a text, in order, repeats kept (their count is a term frequency). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").toLowerCase().matchAll(WORD)) {
    if (STOP_WORDS.has(m[0])) continue;
    out.push(term(m[0]));
  }
  return out;
}

/** Where each word of `text` lies and its term (null for a stop word): what the page highlights against a query's terms. */
export function wordSpans(text: string): Array<{ start: number; end: number; term: string | null }> {
  // NFKC can change lengths; spans are reported on the original text, word by word.
  const out: Array<{ start: number; end: number; term: string | null }> = [];
  for (const m of text.matchAll(/[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu)) {
    const terms = tokenize(m[0]);
    out.push({ start: m.index!, end: m.index! + m[0].length, term: terms.length ? terms[0] : null });
  }
  return out;
}
