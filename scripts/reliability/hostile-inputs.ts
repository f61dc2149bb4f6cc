// The inputs issue 24 found costly, in one list for the tokenizer cost
// bench (scripts/bench/hostile-cost.ts), npm run loadtest and the tests:
// texts that NFKC expands (one U+FDFA is 18 characters), that are long runs of
// one piece or of unknown symbols, astral characters (two UTF-16 units each),
// and a filter nested far past the allowed depth.

export interface HostileText {
  name: string;
  text: string;
}

/** The longest legal query, in characters after NFKC (MAX_QUERY_CHARS in wrangler.toml). */
export const MAX_QUERY_CHARS = 1000;

/** Texts of every costly kind; `legal` ones fit MAX_QUERY_CHARS after NFKC. */
export function hostileTexts(): { refused: HostileText[]; legal: HostileText[] } {
  return {
    refused: [
      { name: "U+FDFA x 1000 (18,000 chars after NFKC)", text: "\uFDFA".repeat(1000) },
      { name: "U+3300 x 1000 (4,000 chars after NFKC)", text: "\u3300".repeat(1000) },
    ],
    legal: [
      { name: "U+FDFA x 55 (990 chars after NFKC)", text: "\uFDFA".repeat(55) },
      { name: "'a' x 1000", text: "a".repeat(1000) },
      { name: "U+2581 x 1000 (the separator itself)", text: "\u2581".repeat(1000) },
      { name: "emoji x 1000 (2,000 UTF-16 units)", text: "\u{1F680}".repeat(1000) },
      { name: "unknown CJK x 1000", text: "\u9F98".repeat(1000) },
      { name: "prose, 1000 chars", text: "the government announced new funding for regional hospitals while farmers waited ".repeat(13).slice(0, 1000) },
    ],
  };
}

/** `{"q": q, "filter": [[[...]]]}` with the filter nested `depth` deep, as text (JSON.stringify would recurse as deep). */
export function deepFilterBody(q: string, depth: number): string {
  return `{"q":${JSON.stringify(q)},"filter":${"[".repeat(depth)}${"]".repeat(depth)}}`;
}
