// A few item texts the search page offers as example queries: spread evenly
// over the corpus, of middling length (a whole headline, not a fragment or an
// essay), distinct. Deterministic, so a rebuild gives the same manifest.
const EXAMPLES = 6;
const MIN_CHARS = 20;
const MAX_CHARS = 80;

export function pickExamples(texts: readonly string[], count = EXAMPLES): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const step = Math.max(1, Math.floor(texts.length / (count * 4)));
  for (let i = Math.floor(step / 2); i < texts.length && out.length < count; i += step) {
    const t = texts[i].trim();
    if (t.length < MIN_CHARS || t.length > MAX_CHARS || seen.has(t)) continue;
    seen.add(t);
    out.push(t);
  }
  return out;
}
