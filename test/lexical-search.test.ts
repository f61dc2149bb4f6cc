// Lexical search (lib/lexical/) on the real fixture index (2,000 ABC headlines,
// built by runBuild) against a brute-force BM25 written here: every item
// tokenized, every query term scored by the textbook formula. Reading whole
// postings lists must give the identical top 10; a bounded prefix must find
// ≥ 99% of it. The fixture's lists are short (2,000 items), so the prefix is
// also tested cut to 96 postings, lexical values rebuilt over the same items:
// then the frequent terms have tails, and the bound really bounds.
import { beforeAll, describe, expect, it } from "vitest";
import { ArtifactSearch } from "../scripts/artifacts/node-search.ts";
import { readPackIndex } from "../scripts/artifacts/dir.ts";
import { buildLexical } from "../scripts/builder/packing/lexical-values.ts";
import { searchMode } from "../lib/lexical/hybrid.ts";
import { lexicalIndex } from "../lib/lexical/search.ts";
import { tokenize } from "../lib/lexical/tokenize.ts";
import { decodeLexiconHead, joinParts } from "../lib/index/format.ts";
import type { IndexHandle } from "../lib/index/handle.ts";
import { ensureIndexFixture, evaluationQueries, fixtureTexts } from "./helpers/index-fixture.ts";

const K1 = 1.2;
const B = 0.75;
const SHORT_PREFIX = 96;

describe("lexical search against brute-force BM25", () => {
  let engine: ArtifactSearch;
  let texts: string[];
  let ids: string[];
  let queries: string[];
  let docs: string[][];
  let df: Map<string, number>;
  let avgdl: number;
  let short: IndexHandle;
  const vector = new Float32Array(512).fill(1 / Math.sqrt(512));

  /** BM25 over every item, ties by id: the reference. */
  function bruteForce(query: string, k: number): Array<{ id: string; score: number }> {
    const n = docs.length;
    const terms = [...new Set(tokenize(query))];
    const scored: Array<{ id: string; score: number }> = [];
    docs.forEach((d, i) => {
      let score = 0;
      for (const t of terms) {
        const tf = d.filter((x) => x === t).length;
        if (!tf) continue;
        const idf = Math.log(1 + (n - df.get(t)! + 0.5) / (df.get(t)! + 0.5));
        score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * d.length) / avgdl));
      }
      if (score > 0) scored.push({ id: ids[i], score });
    });
    return scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, k);
  }

  beforeAll(async () => {
    // The Worker tests' fixture (built once, then reused from the temp dir); this file needs no Worker.
    const fixture = await ensureIndexFixture();
    engine = await ArtifactSearch.open(fixture.dir);
    texts = await fixtureTexts(engine);
    ids = (await engine.allRecords()).map((r) => r.id);
    docs = texts.map((t) => tokenize(t));
    avgdl = docs.reduce((s, d) => s + d.length, 0) / docs.length;
    df = new Map();
    for (const d of docs) for (const term of new Set(d)) df.set(term, (df.get(term) ?? 0) + 1);
    // Perturbed headlines, plus queries of the corpus's most frequent terms: their lists are the ones cut short.
    const frequent = [...df].sort((a, b) => b[1] - a[1]).slice(0, 24).map(([t]) => t);
    const combos = Array.from({ length: 20 }, (_, i) => `${frequent[i]} ${frequent[(i * 7 + 3) % 24]} ${frequent[(i * 5 + 11) % 24]}`);
    queries = [...evaluationQueries(texts).slice(0, 80), ...combos];
    // The same items' lexical values with a short prefix, served beside the fixture's other values.
    const pack = await readPackIndex(fixture.dir);
    const keyBytes = new Uint8Array(pack.keys.length * 8);
    pack.keys.forEach((k, i) => keyBytes.set(Buffer.from(k.slice(5), "hex"), i * 8));
    const built = buildLexical(texts, keyBytes, { prefix: SHORT_PREFIX });
    expect(built.tails.length).toBeGreaterThan(0);
    const extra = new Map([...built.head, ...built.parts, ...built.tails].map((b) => [b.ref.key, b.text]));
    const base = engine.handle.source;
    short = {
      ...engine.handle,
      lexical: lexicalIndex(decodeLexiconHead(joinParts(built.head.map((b) => b.text)))),
      source: {
        async getTexts(keys) {
          const rest = await base.getTexts(keys.filter((k) => !extra.has(k)));
          for (const k of keys) if (extra.has(k)) rest.set(k, extra.get(k)!);
          return rest;
        },
      },
    };
  });

  it("the fixture's index carries a lexicon of every item", () => {
    const lex = engine.handle.lexical!;
    expect(lex.head.items).toBe(2000);
    expect(lex.avgdl).toBeCloseTo(avgdl, 9);
    expect(engine.manifest.lexical!.terms).toBe(df.size);
  });

  it("reading whole lists gives brute force's top 10, ids and scores, with the built prefix and a short one", async () => {
    for (const h of [engine.handle, short]) {
      for (const q of queries) {
        const want = bruteForce(q, 10);
        const got = await searchMode(h, { text: q, vector }, { k: 10, mode: "lexical", wholeLists: true, lexicalDepth: 100 });
        expect(got.results.map((r) => r.id), q).toEqual(want.map((r) => r.id));
        got.results.forEach((r, i) => expect(r.score, q).toBeCloseTo(want[i].score, 6));
      }
    }
  });

  it("a short prefix still finds ≥ 99% of the top 10, in two rounds, reading no tail", async () => {
    let found = 0;
    let total = 0;
    let cut = 0;
    for (const q of queries) {
      const want = bruteForce(q, 10).map((r) => r.id);
      const got = await searchMode(short, { text: q, vector }, { k: 10, mode: "lexical" });
      expect(got.stats.roundTrips).toBeLessThanOrEqual(2);
      expect(got.stats.lexical!.tails).toBe(0);
      cut += got.stats.lexical!.matched.filter((t) => df.get(t)! > SHORT_PREFIX).length;
      found += want.filter((id) => got.results.some((r) => r.id === id)).length;
      total += want.length;
    }
    // Queries did meet lists longer than the prefix: the bound was exercised.
    expect(cut).toBeGreaterThan(0);
    process.stderr.write(`[lexical-search] prefix ${SHORT_PREFIX}: recall@10 ${(found / total).toFixed(4)} over ${queries.length} queries, ${cut} query terms cut\n`);
    expect(found / total).toBeGreaterThanOrEqual(0.99);
  });

  it("a query of stop words or unknown words answers nothing, with the reason; hybrid answers by meaning", async () => {
    const stop = await searchMode(engine.handle, { text: "the and of it", vector }, { k: 10, mode: "lexical" });
    expect(stop.results).toEqual([]);
    expect(stop.reason).toMatch(/stop word/);
    const unknown = await searchMode(engine.handle, { text: "zzqx qwertyuiop", vector }, { k: 10, mode: "lexical" });
    expect(unknown.results).toEqual([]);
    expect(unknown.reason).toMatch(/none of the query's words/);
    const hybrid = await searchMode(engine.handle, { text: "the and of it", vector }, { k: 10, mode: "hybrid" });
    expect(hybrid.results).toHaveLength(10);
    expect(hybrid.results.every((r) => r.scores.lexical === 0)).toBe(true);
  });
});
