// Marks the query's words in a result's text, loosely: the search is by meaning,
// so the marks only help the eye find the words the query shares with the item.
import { h } from "./dom.ts";
import { wordSpans } from "../../../lib/lexical/tokenize.ts";

const MIN_TERM = 2;
const MIN_STEM = 3;
const MIN_PREFIX = 4;
const STOP = new Set("a an and are as at be by do for from has have how in is it its of on or that the this to was were what when where which who why will with".split(" "));
const WORD = /[\p{L}\p{N}']+/gu;

/** The query's distinct lower-case words, stop words and single letters left out. */
export function queryTerms(q: string): string[] {
  return [...new Set((q.toLowerCase().match(WORD) || []).filter((w) => w.length >= MIN_TERM && !STOP.has(w)))];
}

// A rough stem, so "terrorism" marks "terrorists" and "farmers" marks "farm".
function stem(w: string): string {
  const s = w.replace(/(?:ists?|isms?|ings?|ers?|ed|es|s|ly)$/, "");
  return s.length >= MIN_STEM ? s : w;
}

function matchesTerm(word: string, terms: string[]): boolean {
  const w = word.toLowerCase();
  return terms.some((t) => w === t || stem(w) === stem(t) || (t.length >= MIN_PREFIX && w.startsWith(t)) || (w.length >= MIN_PREFIX && t.startsWith(w)));
}

/** The text as strings and <mark>s around the words that match a term. */
export function highlighted(text: string, terms: string[]): Array<string | HTMLElement> {
  const out: Array<string | HTMLElement> = [];
  let last = 0;
  for (const m of text.matchAll(WORD)) {
    if (!matchesTerm(m[0], terms)) continue;
    const at = m.index ?? 0;
    out.push(text.slice(last, at), h("mark", {}, m[0]));
    last = at + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/**
 * The text with <mark>s around exactly the words whose term (the lexical index's
 * tokenizer: NFKC, lower case, stems) is one of `terms`, the query's terms that
 * the search matched: what BM25 scored.
 */
export function markedTerms(text: string, terms: readonly string[]): Array<string | HTMLElement> {
  const want = new Set(terms);
  const out: Array<string | HTMLElement> = [];
  let last = 0;
  for (const w of wordSpans(text)) {
    if (w.term === null || !want.has(w.term)) continue;
    out.push(text.slice(last, w.start), h("mark", { class: "term" }, text.slice(w.start, w.end)));
    last = w.end;
  }
  out.push(text.slice(last));
  return out;
}
