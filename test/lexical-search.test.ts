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
import { lexicalIndex, type LexicalIndex } from "../lib/lexical/search.ts";
import { loadLexicalBase } from "../scripts/builder/packing/lexical-base.ts";
import type { TextBlob } from "../scripts/builder/packing/text-blob.ts";
import type { Manifest } from "../lib/index/manifest.ts";
import { tokenize } from "../lib/lexical/tokenize.ts";
import { decodeLexiconDelta, decodeLexiconHead, joinParts } from "../lib/index/format.ts";
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
  let keyBytes: Uint8Array;
  let serveWith: (lexical: LexicalIndex, values: TextBlob[]) => IndexHandle;
  const vector = new Float32Array(512).fill(1 / Math.sqrt(512));

  /** BM25 over every item (or the rows given, with their df), ties by id: the reference. */
  function bruteForce(query: string, k: number, rows?: number[], rowsDf?: Map<string, number>): Array<{ id: string; score: number }> {
    const use = rows ?? docs.map((_, i) => i);
    const n = use.length;
    const dfOf = rowsDf ?? df;
    const avg = rows ? rows.reduce((s, i) => s + docs[i].length, 0) / n : avgdl;
    const terms = [...new Set(tokenize(query))];
    const scored: Array<{ id: string; score: number }> = [];
    use.forEach((i) => {
      const d = docs[i];
      let score = 0;
      for (const t of terms) {
        const tf = d.filter((x) => x === t).length;
        if (!tf) continue;
        const idf = Math.log(1 + (n - dfOf.get(t)! + 0.5) / (dfOf.get(t)! + 0.5));
        score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * d.length) / avg));
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
    keyBytes = new Uint8Array(pack.keys.length * 8);
    pack.keys.forEach((k, i) => keyBytes.set(Buffer.from(k.slice(5), "hex"), i * 8));
    const built = buildLexical(texts, keyBytes, { prefix: SHORT_PREFIX });
    expect(built.tails.length).toBeGreaterThan(0);
    const source = engine.handle.source;
    serveWith = (lexical, values) => {
      const extra = new Map(values.map((b) => [b.ref.key, b.text]));
      return {
        ...engine.handle,
        lexical,
        source: {
          async getTexts(keys) {
            const rest = await source.getTexts(keys.filter((k) => !extra.has(k)));
            for (const k of keys) if (extra.has(k)) rest.set(k, extra.get(k)!);
            return rest;
          },
        },
      };
    };
    short = serveWith(lexicalIndex(decodeLexiconHead(joinParts(built.head.map((b) => b.text)))), [...built.head, ...built.parts, ...built.tails]);
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
  describe("a delta over a base lexicon (format.ts §12)", () => {
    const BASE_ROWS = 1800;
    const REMOVED = 50;
    let base: Awaited<ReturnType<typeof loadLexicalBase>>;
    let newRows: number[];
    let newTexts: string[];
    let newKeys: Uint8Array;

    beforeAll(async () => {
      // The base version: rows 0..1799, with tails (short prefix). The new corpus drops rows 0..49 and adds 1800..1999.
      const first = buildLexical(texts.slice(0, BASE_ROWS), keyBytes.slice(0, BASE_ROWS * 8), { prefix: SHORT_PREFIX });
      const stored = new Map([...first.head, ...first.parts, ...first.tails].map((b) => [b.ref.key, b.text]));
      const manifest = { version: "base", lexical: { head: first.head.map((b) => b.ref), terms: first.terms, parts: first.parts.length, tails: first.tails.length, cut: first.cut } } as Manifest;
      base = await loadLexicalBase(manifest, async (keys) => new Map(keys.map((k) => [k, stored.get(k) ?? null])));
      expect(base!.keys.size).toBe(BASE_ROWS);
      newRows = Array.from({ length: texts.length - REMOVED }, (_, i) => i + REMOVED);
      newTexts = newRows.map((i) => texts[i]);
      newKeys = keyBytes.slice(REMOVED * 8);
    });

    function served(built: ReturnType<typeof buildLexical>): IndexHandle {
      const head = decodeLexiconHead(joinParts(built.head.map((b) => b.text)));
      const delta = built.delta.length ? decodeLexiconDelta(joinParts(built.delta.map((b) => b.text))) : null;
      return serveWith(lexicalIndex(head, delta), [...built.head, ...built.parts, ...built.tails]);
    }

    it("keeps every base value and adds one delta value holding the 200 new items and the 50 removed keys", () => {
      const built = buildLexical(newTexts, newKeys, { prefix: SHORT_PREFIX, base });
      expect(built.deltaInfo).toMatchObject({ items: 200, removed: REMOVED });
      expect(built.delta).toHaveLength(1);
      const keys = (xs: TextBlob[]) => xs.map((b) => b.ref.key);
      expect(keys(built.head)).toEqual(keys(base!.head));
      expect(keys(built.parts)).toEqual(keys(base!.parts));
      expect(keys(built.tails)).toEqual(keys(base!.tails));
      const delta = decodeLexiconDelta(joinParts(built.delta.map((b) => b.text)));
      expect(delta.items).toBe(newTexts.length);
      expect(delta.totalTerms).toBe(newRows.reduce((s, i) => s + docs[i].length, 0));
    });

    it("whole lists give brute force's top 10 over the new corpus (df still counting removed items), never a removed item", async () => {
      const h = served(buildLexical(newTexts, newKeys, { prefix: SHORT_PREFIX, base }));
      const removedIds = new Set(ids.slice(0, REMOVED));
      // Queries from removed, kept and added rows alike.
      const qs = [...evaluationQueries(texts.slice(0, REMOVED)).slice(0, 20), ...queries.slice(0, 40), ...evaluationQueries(texts.slice(BASE_ROWS)).slice(0, 20)];
      let sawAdded = 0;
      for (const q of qs) {
        const want = bruteForce(q, 10, newRows, df);
        const got = await searchMode(h, { text: q, vector }, { k: 10, mode: "lexical", wholeLists: true, lexicalDepth: 100 });
        expect(got.results.map((r) => r.id), q).toEqual(want.map((r) => r.id));
        got.results.forEach((r, i) => expect(r.score, q).toBeCloseTo(want[i].score, 6));
        expect(got.results.filter((r) => removedIds.has(r.id))).toEqual([]);
        const bounded = await searchMode(h, { text: q, vector }, { k: 10, mode: "lexical" });
        expect(bounded.results.filter((r) => removedIds.has(r.id))).toEqual([]);
        sawAdded += got.results.filter((r) => ids.indexOf(r.id) >= BASE_ROWS).length;
      }
      expect(sawAdded).toBeGreaterThan(0);
    });

    it("past its budget the build rewrites the main lexicon (no delta), cut where the base was", () => {
      const merged = buildLexical(newTexts, newKeys, { prefix: SHORT_PREFIX, base, deltaMaxBytes: 1024 });
      const fresh = buildLexical(newTexts, newKeys, { prefix: SHORT_PREFIX, cut: base!.manifest.cut });
      expect(merged.deltaInfo).toBeNull();
      expect(merged.delta).toEqual([]);
      expect(merged.cut).toBe(base!.manifest.cut);
      expect(merged.parts.map((b) => b.ref.key)).toEqual(fresh.parts.map((b) => b.ref.key));
      // Another prefix cannot keep the base either.
      expect(buildLexical(newTexts, newKeys, { prefix: SHORT_PREFIX + 1, base }).deltaInfo).toBeNull();
    });
  });
});
