// Example queries for the search page, taken from the corpus itself so they
// always have answers: one short item from each of EXAMPLE_COUNT evenly spaced
// stretches of the corpus (varied topics and dates), deterministic for a corpus.

export const EXAMPLE_COUNT = 6;
/** Long enough to mean something, short enough to read as a query. */
const MIN_WORDS = 3;
const MAX_WORDS = 8;
const MAX_CHARS = 60;

function queryLike(text: string): boolean {
  const words = text.trim().split(/\s+/).length;
  return words >= MIN_WORDS && words <= MAX_WORDS && text.length <= MAX_CHARS;
}

/** Up to `count` distinct texts: the first query-like item in each of `count` equal stretches. */
export function pickExamples(texts: readonly string[], count = EXAMPLE_COUNT): string[] {
  const picked: string[] = [];
  const seen = new Set<string>();
  for (let s = 0; s < count; s++) {
    const start = Math.floor((s * texts.length) / count);
    const end = Math.floor(((s + 1) * texts.length) / count);
    for (let i = start; i < end; i++) {
      const text = texts[i].replace(/\s+/g, " ").trim();
      const key = text.toLowerCase();
      if (!queryLike(text) || seen.has(key)) continue;
      seen.add(key);
      picked.push(text);
      break;
    }
  }
  return picked;
}
