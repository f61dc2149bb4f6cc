// Lexical search (lib/lexical/) on the real fixture index (2,000 ABC headlines,
// built by runBuild) against a brute-force BM25 written here: every item
// tokenized, every query term scored by the textbook formula. Reading whole
// postings lists must give the identical top 10; the bounded prefix the
// Worker reads must find ≥ 99% of it.
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ArtifactSearch } from "../scripts/artifacts/node-search.ts";
import { searchMode } from "../lib/lexical/hybrid.ts";
import { tokenize } from "../lib/lexical/tokenize.ts";
import { evaluationQueries, fixtureTexts } from "./helpers/index-fixture.ts";

const K1 = 1.2;
const B = 0.75;

/** BM25 over every item, ties by id: the reference. */
function bruteForce(texts: string[], ids: string[], query: string, k: number): Array<{ id: string; score: number }> {
  const docs = texts.map((t) => tokenize(t));
  const n = docs.length;
  const avgdl = docs.reduce((s, d) => s + d.length, 0) / n;
  const terms = [...new Set(tokenize(query))];
  const scored: Array<{ id: string; score: number }> = [];
  docs.forEach((d, i) => {
    let score = 0;
    for (const t of terms) {
      const df = docs.filter((x) => x.includes(t)).length;
      const tf = d.filter((x) => x === t).length;
      if (!tf) continue;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * d.length) / avgdl));
    }
    if (score > 0) scored.push({ id: ids[i], score });
  });
  return scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, k);
}

describe("lexical search against brute-force BM25", () => {
  const fixture = inject("indexFixture");
  let engine: ArtifactSearch;
  let texts: string[];
  let ids: string[];
  let queries: string[];
  const vector = new Float32Array(512).fill(1 / Math.sqrt(512));
  beforeAll(async () => {
    engine = await ArtifactSearch.open(fixture.dir);
    texts = await fixtureTexts(engine);
    ids = (await engine.allRecords()).map((r) => r.id);
    // Perturbed headlines, plus queries of the corpus's most frequent terms: their lists are the ones cut short.
    const df = new Map<string, number>();
    for (const t of texts) for (const term of new Set(tokenize(t))) df.set(term, (df.get(term) ?? 0) + 1);
    const frequent = [...df].sort((a, b) => b[1] - a[1]).slice(0, 24).map(([t]) => t);
    const pairs = Array.from({ length: 20 }, (_, i) => `${frequent[i]} ${frequent[(i * 7 + 3) % 24]} ${frequent[(i * 5 + 11) % 24]}`);
    queries = [...evaluationQueries(texts).slice(0, 80), ...pairs];
  });

  it("the fixture's index has a lexicon, and its frequent terms have tails past the prefix", () => {
    const lex = engine.handle.lexical!;
    expect(lex.head.items).toBe(2000);
    expect(engine.manifest.lexical!.tails).toBeGreaterThan(0);
  });

  it("reading whole lists gives brute force's top 10, ids and scores", async () => {
    for (const q of queries) {
      const want = bruteForce(texts, ids, q, 10);
      const got = await searchMode(engine.handle, { text: q, vector }, { k: 10, mode: "lexical", wholeLists: true, lexicalDepth: 100 });
      expect(got.results.map((r) => r.id), q).toEqual(want.map((r) => r.id));
      got.results.forEach((r, i) => expect(r.score, q).toBeCloseTo(want[i].score, 9));
    }
  });

  it("the bounded prefix finds ≥ 99% of the top 10, in two rounds, reading no tail", async () => {
    let found = 0;
    let total = 0;
    let tailsOfTerms = 0;
    for (const q of queries) {
      const want = bruteForce(texts, ids, q, 10).map((r) => r.id);
      const got = await searchMode(engine.handle, { text: q, vector }, { k: 10, mode: "lexical" });
      expect(got.stats.roundTrips).toBeLessThanOrEqual(2);
      expect(got.stats.lexical!.tails).toBe(0);
      tailsOfTerms += got.stats.lexical!.matched.filter((t) => texts.filter((x) => tokenize(x).includes(t)).length > engine.handle.lexical!.head.prefix).length;
      found += want.filter((id) => got.results.some((r) => r.id === id)).length;
      total += want.length;
    }
    // The frequent-term queries did meet lists longer than the prefix: the bound was exercised.
    expect(tailsOfTerms).toBeGreaterThan(10);
    expect(found / total).toBeGreaterThanOrEqual(0.99);
  });

  it("a query of stop words or unknown words answers nothing, with the reason", async () => {
    const stop = await searchMode(engine.handle, { text: "the and of it", vector }, { k: 10, mode: "lexical" });
    expect(stop.results).toEqual([]);
    expect(stop.reason).toMatch(/stop word/);
    const unknown = await searchMode(engine.handle, { text: "zzqx qwertyuiop", vector }, { k: 10, mode: "lexical" });
    expect(unknown.results).toEqual([]);
    expect(unknown.reason).toMatch(/not in the index|none of/);
    const hybrid = await searchMode(engine.handle, { text: "the and of it", vector }, { k: 10, mode: "hybrid" });
    expect(hybrid.results).toHaveLength(10);
    expect(hybrid.results.every((r) => r.scores.lexical === 0)).toBe(true);
  });
});
