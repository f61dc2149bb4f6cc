// lib/model/tokenizer.ts walks offsets instead of slicing (issue 24): it must
// still turn every text into exactly the tokens the package's tokenizer gives,
// or queries and items would be embedded differently. Checked on the committed
// headlines, hostile inputs and random unicode always; on STS-B and the 50k
// headlines when ../shared is present.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { prepareModel } from "../scripts/builder/embedding/node-model.ts";
import { tokenizeWithin, UseTokenizer } from "../lib/model/tokenizer.ts";
import { HEADLINES_CSV, sharedDataFile } from "./helpers/build-fixtures.ts";

type TokenizerClass = new (vocabulary: unknown) => { encode(text: string): number[] };
const require = createRequire(import.meta.url);
const Reference = (require("@tensorflow-models/universal-sentence-encoder") as { Tokenizer: TokenizerClass }).Tokenizer;

const STS = sharedDataFile("sts-benchmark-test.tsv", "tokenizer-equal STS-B sentences");
const NEWS = sharedDataFile("abcnews-2003-50k.csv", "tokenizer-equal 50k headlines");

/** Headline text of a `publish_date,headline_text` CSV; CRLF line ends stripped (a stray \r is a token). */
function headlines(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line !== "")
    .map((line) => line.split(",").slice(1).join(","));
}

/** Inputs that cost the package's tokenizer the most, kept short enough for it to finish quickly. */
export const HOSTILE_SAMPLES = [
  "\uFDFA".repeat(40),
  "\uFDFA a ".repeat(20),
  "\u3300".repeat(50),
  "a".repeat(300),
  " ".repeat(100),
  "\u2581".repeat(60),
  "🚀".repeat(40),
  "\uD83D".repeat(30),
  "e\u0301".repeat(50),
  "\u1100\u1161\u11A8".repeat(30),
  "x\uFFFDy\u0000z",
  "",
  "   ",
  "....,,,,!!!!????",
];

async function tokenizers() {
  const { vocabulary } = await prepareModel();
  return { mine: new UseTokenizer(vocabulary), reference: new Reference(vocabulary) };
}

describe("offset-walk tokenizer", () => {
  it("equals the package's on the 2,000 committed headlines, hostile inputs and 3,000 random strings", async () => {
    const { mine, reference } = await tokenizers();
    const texts = [...headlines(HEADLINES_CSV), ...HOSTILE_SAMPLES];
    expect(texts.length).toBeGreaterThan(2000);
    for (const t of texts) expect(mine.encode(t), JSON.stringify(t)).toEqual(reference.encode(t));
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), (t) => void expect(mine.encode(t)).toEqual(reference.encode(t))),
      { numRuns: 1500 },
    );
    // Strings drawn from the vocabulary's own alphabet hit long matches and ties far more often.
    const alphabet = [..."abcdefghijklmnopqrstuvwxyz .,'-▁ingthe"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 80 }), (chars) => {
        const t = chars.join("");
        expect(mine.encode(t)).toEqual(reference.encode(t));
      }),
      { numRuns: 1500 },
    );
  });

  it("stops at the cap: null once a text holds more tokens, the same tokens up to it", async () => {
    const { mine } = await tokenizers();
    const t = "drought hits farmers in the north";
    const n = mine.encode(t).length;
    expect(mine.encodeUpTo(t, n)).toEqual(mine.encode(t));
    expect(mine.encodeUpTo(t, n - 1)).toBeNull();
    const hostile = "\uFDFA".repeat(1000);
    expect(mine.encodeUpTo(hostile, 4096)).toBeNull(); // 18,001 tokens
    const within = tokenizeWithin(mine, [t, t, hostile, t], 4096);
    expect(within).toEqual({ ok: false, cap: 4096 });
    const fits = tokenizeWithin(mine, [t, t], 4096);
    expect(fits).toEqual({ ok: true, encodings: [mine.encode(t), mine.encode(t)], tokens: 2 * n });
  });

  it.skipIf(!STS)("equals the package's on every STS-B test sentence", async () => {
    const { mine, reference } = await tokenizers();
    const sentences = readFileSync(STS!, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .flatMap((l) => l.split("\t").slice(5, 7));
    expect(sentences.length).toBe(2 * 1379);
    for (const s of sentences) expect(mine.encode(s), s).toEqual(reference.encode(s));
  });

  it.skipIf(!NEWS)("equals the package's on the 50k headlines (CRLF stripped)", async () => {
    const { mine, reference } = await tokenizers();
    const texts = headlines(NEWS!);
    expect(texts.length).toBe(49_999);
    for (const t of texts) expect(mine.encode(t), t).toEqual(reference.encode(t));
  });
});
