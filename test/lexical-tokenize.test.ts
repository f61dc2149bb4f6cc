// The lexical index's one tokenizer (lib/lexical/tokenize.ts): Unicode
// folding, letters and digits, stop words, stems.
import { describe, expect, it } from "vitest";
import { STOP_WORDS, tokenize, wordSpans } from "../lib/lexical/tokenize.ts";

describe("tokenize", () => {
  it("folds Unicode compatibility forms (NFKC) and case before it splits", () => {
    expect(tokenize("ＰＯＬＩＣＥ")).toEqual(tokenize("police"));
    expect(tokenize("ﬁnancial")).toEqual(tokenize("financial"));
    expect(tokenize("２００３")).toEqual(["2003"]);
    expect(tokenize("Zürich")).toEqual(["zürich"]);
    // Decomposed and composed forms of one word are one term.
    expect(tokenize("Zu\u0308rich")).toEqual(["zürich"]);
  });

  it("splits on everything but letters and digits, and keeps numbers and non-Latin words whole", () => {
    // A lone "s" is the possessive clitic, and a stop word, wherever it comes from.
    expect(tokenize("n.s.w. floods: 12,000 evacuated")).toEqual(["n", "w", "flood", "12", "000", "evacu"]);
    expect(tokenize("東京 株価")).toEqual(["東京", "株価"]);
    expect(tokenize("F-111 jet")).toEqual(["f", "111", "jet"]);
  });

  it("drops English stop words, and the clitics an apostrophe leaves", () => {
    expect(tokenize("the man's car is in the garage")).toEqual(["man", "car", "garag"]);
    expect(tokenize("it is what it is")).toEqual(["what"]);
    expect(tokenize("the and of")).toEqual([]);
    // Negations stay: they change a headline's meaning.
    expect(tokenize("no rain")).toEqual(["no", "rain"]);
    for (const w of ["the", "a", "of", "s"]) expect(STOP_WORDS.has(w)).toBe(true);
  });

  it("stems inflections of a word to one term (Porter)", () => {
    expect(tokenize("running runs run")).toEqual(["run", "run", "run"]);
    expect(tokenize("flooding floods flooded")).toEqual(["flood", "flood", "flood"]);
    expect(new Set(tokenize("police policing"))).toEqual(new Set(["polic"]));
  });

  it("maps each word of a text to its term, on the original offsets, for highlighting", () => {
    const text = "Ｐolice probe the floods";
    const spans = wordSpans(text);
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual(["Ｐolice", "probe", "the", "floods"]);
    expect(spans.map((s) => s.term)).toEqual(["polic", "probe", null, "flood"]);
  });
});
