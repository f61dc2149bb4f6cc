// Search modes through HTTP on the real index (2,000 ABC headlines, lexicon
// included): semantic, lexical and hybrid (score fusion and RRF) on GET and
// POST, per query in batches, with filters, each the same as the Node search
// over the same artifacts; two KV rounds at most; both scores on every hit;
// stop-word and unknown-word queries; the mode and fusion errors.
import { describe, expect, it } from "vitest";
import type { ModeOptions } from "../lib/lexical/hybrid.ts";
import { expectSameHits, post, suiteRealIndex, type Hit } from "./helpers/workerd-fixture.ts";

const MARCH = { publish_date: { $gte: "2003-03-01", $lt: "2003-04-01" } };
const inMarch = (h: Hit) => /^200303\d\d$/.test(String(h.meta.publish_date));
type ScoredHit = Hit & { scores: { semantic: number; lexical: number | null } };

describe("search modes through the Worker", () => {
  const ix = suiteRealIndex();

  async function node(q: string, o: Omit<ModeOptions, "k" | "filter"> & { filter?: unknown }) {
    const [v] = await ix.embedder.embed([q]);
    const filter = o.filter ? ix.engine.compile(JSON.stringify(o.filter)) : null;
    return ix.engine.query(q, v, { k: 10, ...o, filter });
  }

  const QUERIES = ["saddam hussein statue toppled in baghdad", "drought hits farmers", "sars outbreak hong kong"];

  it("GET answers each mode and fusion as the Node search does, in ≤ 2 KV rounds, with both scores on every hit", async () => {
    for (const q of QUERIES) {
      for (const [mode, fusion] of [["semantic", undefined], ["lexical", undefined], ["hybrid", undefined], ["hybrid", "rrf"]] as const) {
        const res = await ix.w.json(`/v1/search?q=${encodeURIComponent(q)}&k=10&mode=${mode}${fusion ? `&fusion=${fusion}` : ""}`);
        const label = `${q} [${mode}${fusion ? `/${fusion}` : ""}]`;
        expect(res.status, label).toBe(200);
        expect(res.body.mode).toBe(mode);
        expect(res.body.fusion ?? null).toBe(mode === "hybrid" ? (fusion ?? "score") : null);
        expect(res.body.stats.round_trips, label).toBeLessThanOrEqual(2);
        const hits = res.body.results as ScoredHit[];
        expect(hits.length, label).toBeGreaterThan(0);
        for (const h of hits) {
          expect(typeof h.scores.semantic).toBe("number");
          if (mode === "semantic") expect(h.scores.lexical).toBeNull();
          else expect(typeof h.scores.lexical).toBe("number");
          if (mode === "lexical") expect(h.score).toBe(h.scores.lexical);
        }
        const n = await node(q, { mode, fusion });
        expectSameHits(hits, n.results, label);
      }
    }
  });

  it("without a mode, the index's default (hybrid) answers", async () => {
    const res = await ix.w.json(`/v1/search?q=${encodeURIComponent(QUERIES[0])}`);
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe("hybrid");
    expect(res.body.fusion).toBe("score");
  });

  it("hybrid finds an exact rare name that semantic search ranks lower", async () => {
    // A headline's rare words, in another order with other words: the lexical side must carry it.
    const all = await ix.engine.allRecords();
    const target = all.find((r) => /\bsaddam\b/.test(r.text) && /\bstatue\b/.test(r.text)) ?? all[0];
    const res = await ix.w.json(`/v1/search?q=${encodeURIComponent(target.text)}&mode=hybrid`);
    expect((res.body.results as Hit[])[0].id).toBe(target.id);
  });

  it("POST batches take a mode and fusion per query, with shared and own filters, as Node does", async () => {
    const body = {
      k: 10,
      filter: MARCH,
      mode: "hybrid",
      queries: [
        "iraq war protest",
        { q: "iraq war protest", mode: "lexical" },
        { q: "iraq war protest", mode: "semantic" },
        { q: "iraq war protest", fusion: "rrf" },
        { q: "iraq war protest", mode: "lexical", filter: null },
      ],
    };
    const res = await ix.w.json("/v1/search", post(body));
    expect(res.status).toBe(200);
    const answers = res.body.answers as Array<{ mode: string; fusion?: string; results: ScoredHit[]; stats: { round_trips: number } }>;
    expect(answers.map((a) => a.mode)).toEqual(["hybrid", "lexical", "semantic", "hybrid", "lexical"]);
    expect(answers.map((a) => a.fusion ?? null)).toEqual(["score", null, null, "rrf", null]);
    const expected = [
      { mode: "hybrid", filter: MARCH },
      { mode: "lexical", filter: MARCH },
      { mode: "semantic", filter: MARCH },
      { mode: "hybrid", fusion: "rrf", filter: MARCH },
      { mode: "lexical" },
    ] as const;
    for (let i = 0; i < answers.length; i++) {
      expect(answers[i].stats.round_trips).toBeLessThanOrEqual(2);
      if (i < 4) expect(answers[i].results.every(inMarch), `query ${i}`).toBe(true);
      expectSameHits(answers[i].results, (await node("iraq war protest", expected[i])).results, `batch query ${i}`);
    }
    // The unfiltered lexical query reaches beyond March.
    expect(answers[4].results.some((h) => !inMarch(h))).toBe(true);
  });

  it("a query of stop words: lexical answers nothing and says why, hybrid still answers by meaning", async () => {
    const lexical = await ix.w.json(`/v1/search?q=${encodeURIComponent("the of and")}&mode=lexical`);
    expect(lexical.status).toBe(200);
    expect(lexical.body.results).toEqual([]);
    expect(lexical.body.reason).toMatch(/stop word/);
    const unknown = await ix.w.json(`/v1/search?q=${encodeURIComponent("qxzvw blorptastic")}&mode=lexical`);
    expect(unknown.body.results).toEqual([]);
    expect(unknown.body.reason).toMatch(/none of the query's words/);
    const hybrid = await ix.w.json(`/v1/search?q=${encodeURIComponent("the of and")}&mode=hybrid`);
    expect(hybrid.status).toBe(200);
    expect(hybrid.body.results).toHaveLength(10);
    expect(hybrid.body.reason).toBeUndefined();
  });

  it("GET answers of different modes are cached apart", async () => {
    const q = encodeURIComponent("bushfire threatens homes");
    const a = await ix.w.json(`/v1/search?q=${q}&mode=lexical`);
    const b = await ix.w.json(`/v1/search?q=${q}&mode=semantic`);
    const c = await ix.w.json(`/v1/search?q=${q}&mode=lexical`);
    expect(a.body.mode).toBe("lexical");
    expect(b.body.mode).toBe("semantic");
    expect(c.body.mode).toBe("lexical");
  });

  it("an unknown mode or fusion is a 400 with its own code, on GET, POST and in a batch entry", async () => {
    const cases: Array<[string, RequestInit | undefined, string, RegExp]> = [
      ["/v1/search?q=x&mode=keyword", undefined, "invalid_mode", /"mode" must be one of semantic, lexical, hybrid/],
      ["/v1/search?q=x&fusion=max", undefined, "invalid_fusion", /"fusion" must be one of score, rrf/],
      ["/v1/search", post({ q: "x", mode: 3 }), "invalid_mode", /"mode"/],
      ["/v1/search", post({ q: "x", fusion: "dbsf" }), "invalid_fusion", /"fusion"/],
      ["/v1/search", post({ queries: ["x", { q: "y", mode: "bm25" }] }), "invalid_mode", /queries\[1\]\.mode/],
      ["/v1/search", post({ queries: [{ q: "y", weight: 1 }] }), "invalid_body", /weight/],
    ];
    for (const [p, init, code, message] of cases) {
      const res = await ix.w.json(p, init);
      expect(res.status, p).toBe(400);
      expect(res.body.error.code, p).toBe(code);
      expect(res.body.error.message, p).toMatch(message);
    }
  });
});
