// Cost and abuse controls, the Worker in workerd: per-client rate limits (the
// Rate Limiting bindings of wrangler.toml), the /embed token, allowed origins,
// the token budget per request and per model call (wasm heap), and the edge
// cache of GET /search.
import { describe, expect, it } from "vitest";
import { chunkByTokens, MODEL_CALL_TOKENS } from "../functions/embed-budget.ts";
import { wranglerRatelimits } from "../scripts/local/harness.ts";
import { atWindowStart } from "./helpers/rate-window.ts";
import { UseTokenizer } from "../lib/model/tokenizer.ts";
import { prepareModel } from "../scripts/builder/embedding/node-model.ts";
import { post, suiteWorker } from "./helpers/workerd-fixture.ts";

const MiB = 2 ** 20;
/** What 64-token calls may add to the loaded model's wasm heap (measured 1.3 MiB). */
const SMALL_CALLS_GROWTH_MIB = 2;
/** The wasm heap after the largest legal requests (measured 53.3 MiB). */
const WASM_HEAP_LIMIT_MIB = 56;
const WORDS = "the government announced new funding for regional hospitals while farmers in drought affected areas waited".split(" ");
/** Ordinary prose of about `chars` characters (a maximal query is 1,000). */
function prose(seed: number, chars = 1000): string {
  let s = "";
  for (let i = seed; s.length < chars - 12; i++) s += WORDS[i % WORDS.length] + " ";
  return s.trim();
}

function expectEnvelope(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(Object.keys(res.body)).toEqual(["error"]);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe("string");
}

describe("chunkByTokens", () => {
  it("cuts consecutive slices at the budget; a text over it goes alone", () => {
    expect(chunkByTokens([400, 400, 400, 100, 2000, 10], 1000)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
      [5, 6],
    ]);
    expect(chunkByTokens([], 1000)).toEqual([]);
    expect(MODEL_CALL_TOKENS).toBe(64);
  });
});

describe("rate limits (wrangler.toml [[ratelimits]])", () => {
  // Anonymous /embed on purpose (EMBED_PUBLIC), to see its own per-client limit.
  const w = suiteWorker({ seedModel: true, ratelimits: wranglerRatelimits(), vars: { EMBED_PUBLIC: "on" } });

  it("wrangler.toml limits anonymous /search to 100 and /embed to 64 units per client per 10 s (keys: test/worker-harden.test.ts)", () => {
    expect(wranglerRatelimits()).toMatchObject({ SEARCH_LIMITER: { simple: { limit: 100, period: 10 } }, EMBED_LIMITER: { simple: { limit: 64, period: 10 } } });
  });

  it("the 101st /search of a client in the period is 429 rate_limited with Retry-After; another client is not limited", async () => {
    const client = { "CF-Connecting-IP": "203.0.113.7" };
    // All 100 at once, at the start of a period: sent one by one on a loaded machine they can outlast the
    // limiter's 10 s period, and a burst that straddles a window boundary is counted in two windows.
    await atWindowStart();
    const allowed = await Promise.all(Array.from({ length: 100 }, () => w.json("/v1/search?q=x&k=0", { headers: client })));
    for (const r of allowed) expectEnvelope(r, 400, "invalid_k");
    const limited = await w.json("/v1/search?q=x&k=0", { headers: client });
    expectEnvelope(limited, 429, "rate_limited");
    expect(limited.headers.get("retry-after")).toBe("10");
    expect(limited.headers.get("access-control-allow-origin")).toBe("*");
    expectEnvelope(await w.json("/v1/search", { ...post({ q: "x", k: 0 }), headers: { ...client, "Content-Type": "application/json" } }), 429, "rate_limited");
    expectEnvelope(await w.json("/v1/search?q=x&k=0", { headers: { "CF-Connecting-IP": "203.0.113.8" } }), 400, "invalid_k");
  });

  it("the 65th one-text /embed of a client in the period is 429", async () => {
    const init = { ...post({ texts: ["a"] }), headers: { "Content-Type": "application/json", "CF-Connecting-IP": "198.51.100.1" } };
    await w.json("/v1/embed", { ...init, headers: { ...init.headers, "CF-Connecting-IP": "198.51.100.2" } }); // loads the model
    // All at once, at the start of a period: one unit each, charged before any embedding.
    await atWindowStart();
    const answers = await Promise.all(Array.from({ length: 65 }, () => w.json("/v1/embed", init)));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(64);
    const limited = answers.find((r) => r.status !== 200)!;
    expectEnvelope(limited, 429, "rate_limited");
    expect(limited.headers.get("retry-after")).toBe("10");
  });
});

describe("EMBED_TOKEN and ALLOWED_ORIGINS", () => {
  const w = suiteWorker({ seedModel: true, vars: { EMBED_TOKEN: "s3cret-token", EMBED_PUBLIC: "off", ALLOWED_ORIGINS: "https://app.example, https://other.example" } });
  const embed = (headers: Record<string, string>) => w.json("/v1/embed", { ...post({ texts: ["hello"] }), headers: { "Content-Type": "application/json", ...headers } });

  it("EMBED_TOKEN is a key with the embed scope: /embed needs Authorization: Bearer <token>", async () => {
    const none = await embed({});
    expectEnvelope(none, 401, "unauthorized");
    expect(none.headers.get("www-authenticate")).toBe('Bearer scope="embed"');
    expectEnvelope(await embed({ Authorization: "Bearer wrong" }), 401, "invalid_key");
    expectEnvelope(await embed({ Authorization: "Bearer s3cret-token-and-more" }), 401, "invalid_key");
    expectEnvelope(await embed({ Authorization: "Basic s3cret-token" }), 401, "invalid_key");
    const ok = await embed({ Authorization: "Bearer s3cret-token" });
    expect(ok.status).toBe(200);
    expect(ok.body.vectors).toHaveLength(1);
  });

  it("an allowed origin gets its own Access-Control-Allow-Origin; another origin is refused before any work", async () => {
    const auth = { Authorization: "Bearer s3cret-token" };
    const ok = await embed({ ...auth, Origin: "https://app.example" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("vary")).toBe("Origin");
    const refused = await embed({ ...auth, Origin: "https://evil.example" });
    expectEnvelope(refused, 403, "origin_not_allowed");
    expect(refused.headers.get("access-control-allow-origin")).toBe(null);
    const preflight = await w.fetch("/v1/search", { method: "OPTIONS", headers: { Origin: "https://other.example", "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://other.example");
    expect(preflight.headers.get("access-control-allow-headers")).toBe("Content-Type, Authorization");
    expect((await w.fetch("/v1/search", { method: "OPTIONS", headers: { Origin: "https://evil.example" } })).status).toBe(403);
    // No Origin (curl, servers): CORS does not apply.
    expect((await embed(auth)).status).toBe(200);
  });
});

describe("model work per request", () => {
  const w = suiteWorker({ seedModel: true });
  // One retry on a socket error: after the ~30 s burst workerd may have closed a kept-alive connection undici reuses.
  const health = () => w.json("/v1/healthz").catch(() => w.json("/v1/healthz"));
  const wasmMiB = async () => (await health()).body.memory.wasm_heap_bytes / MiB;

  it("a request over 4,096 tokens is 400 too_many_tokens; the largest legal ones, alone and 8 at once, keep the wasm heap under 56 MiB, and repeats do not grow it", async () => {
    const idle = await wasmMiB();
    // 16 headline-length texts go in 64-token calls: the heap grows by what one such call needs, once.
    const headlines = { texts: Array.from({ length: 16 }, (_, i) => prose(i, 60)) };
    expect((await w.json("/v1/embed", post(headlines))).status).toBe(200);
    const afterHeadlines = await wasmMiB();
    expect(afterHeadlines - idle).toBeLessThanOrEqual(SMALL_CALLS_GROWTH_MIB);
    expect((await w.json("/v1/embed", post(headlines))).status).toBe(200);
    expect(await wasmMiB()).toBe(afterHeadlines);
    const over = await w.json("/v1/embed", post({ texts: Array.from({ length: 32 }, (_, i) => prose(i)) }));
    expectEnvelope(over, 400, "too_many_tokens");
    const tokenizer = new UseTokenizer((await prepareModel()).vocabulary);
    const total = Array.from({ length: 32 }, (_, i) => tokenizer.encode(prose(i)).length).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(4096);
    // As many 1,000-character texts as fit in the budget: the largest legal request of this shape.
    const n = Math.floor(4096 / (total / 32));
    const legal = Array.from({ length: n }, (_, i) => prose(i));
    const one = await w.json("/v1/embed", post({ texts: legal }));
    expect(one.status, JSON.stringify(one.body).slice(0, 300)).toBe(200);
    expect(one.body.vectors).toHaveLength(n);
    const afterOne = await wasmMiB();
    const eight = await Promise.all(Array.from({ length: 8 }, () => w.json("/v1/embed", post({ texts: legal }))));
    expect(eight.map((r) => r.status)).toEqual(Array(8).fill(200));
    const afterEight = await wasmMiB();
    console.log(`wasm heap: idle ${idle.toFixed(1)} MiB, after one ${n}-text request ${afterOne.toFixed(1)} MiB, after 8 at once ${afterEight.toFixed(1)} MiB`);
    // Measured: 50.9 MiB loaded, 53.3 MiB after a 1,000-character text. Emscripten's own
    // growth (20 % over each request) left 63.5 MiB; a whole request in one call reached 136.9 MiB.
    expect(afterOne).toBeLessThanOrEqual(WASM_HEAP_LIMIT_MIB);
    expect(afterEight).toBe(afterOne);
    // Chunked calls embed the same as one text at a time.
    const single = await w.json("/v1/embed", post({ texts: [legal[n - 1]] }));
    const a = one.body.vectors[n - 1] as number[];
    const b = single.body.vectors[0] as number[];
    expect(a.reduce((s, x, i) => s + x * b[i], 0)).toBeGreaterThan(0.9999);
  });
});

describe("edge cache of GET /search", () => {
  const w = suiteWorker({ index: true });

  it("a repeated query (the same after NFKC) is answered from the Cache API without embedding; another k or version misses", async () => {
    const first = await w.json("/v1/search?q=bushfire%20threatens%20homes&k=5");
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("public, max-age=60");
    expect(first.headers.get("x-search-cache")).toBe(null);
    expect(first.headers.get("server-timing")).toMatch(/embed;dur=/);
    // The cache write happens after the answer (waitUntil).
    let again = await w.json("/v1/search?q=bushfire%20threatens%20homes&k=5");
    for (let i = 0; i < 20 && again.headers.get("x-search-cache") !== "hit"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await w.json("/v1/search?q=bushfire%20threatens%20homes&k=5");
    }
    expect(again.headers.get("x-search-cache")).toBe("hit");
    expect(again.headers.get("server-timing")).toBe("cache;desc=hit");
    expect(again.headers.get("cache-control")).toBe("public, max-age=60");
    expect(again.body).toEqual(first.body);
    // U+FB01 (the "fi" ligature) is "fi" after NFKC, as the tokenizer sees it: same entry, its own query text.
    const ligature = await w.json(`/v1/search?q=${encodeURIComponent("bush\uFB01re threatens homes")}&k=5`);
    expect(ligature.headers.get("x-search-cache")).toBe("hit");
    expect(ligature.body).toEqual({ ...first.body, query: "bush\uFB01re threatens homes" });
    const otherK = await w.json("/v1/search?q=bushfire%20threatens%20homes&k=6");
    expect(otherK.headers.get("x-search-cache")).toBe(null);
    expect(otherK.body.results).toHaveLength(6);
    // POST is never cached.
    const posted = await w.json("/v1/search", post({ q: "bushfire threatens homes", k: 5 }));
    expect(posted.headers.get("x-search-cache")).toBe(null);
    expect(posted.headers.get("cache-control")).toBe("no-store");
  });
});
