// The HTTP contract that does not depend on the real index: routing, methods,
// CORS, validation, the error envelope, and the embed on/off switch.
import { describe, expect, it } from "vitest";
import { post, suiteWorker } from "./helpers/workerd-fixture.ts";

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  // Every 400 names the offending input in `param`; other errors may (413: the body).
  const withParam = status === 400 || res.body.error?.param !== undefined;
  expect(res.body).toEqual({ error: { code, message: expect.any(String), ...(withParam ? { param: expect.any(String) } : {}) } });
  expect(res.body.error.message.length).toBeGreaterThan(0);
  if (withParam) expect(res.body.error.param.length).toBeGreaterThan(0);
}

describe("Worker HTTP contract", () => {
  // Model-only manifest: the temporary adapter answers searches with index_unavailable.
  const w = suiteWorker({ seedModel: true, vars: { MAX_QUERY_CHARS: "50" } });

  it("serves the search page", async () => {
    const res = await w.fetch("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<input id="q" type="search"');
    // The page's behaviour is tested in Chromium (test/page-browser.test.ts); here, its CSP header.
    expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}=';/);
    expect(html).toContain("/v1/search?");
  });

  it("404s unknown paths with the error envelope", async () => {
    expectError(await w.json("/nope"), 404, "not_found");
    expectError(await w.json("/v1/search/extra"), 404, "not_found");
  });

  it("405s wrong methods with an Allow header", async () => {
    const put = await w.json("/v1/search", { method: "PUT", body: "{}" });
    expectError(put, 405, "method_not_allowed");
    expect(put.headers.get("allow")).toBe("GET, POST, OPTIONS");
    const get = await w.json("/v1/embed");
    expectError(get, 405, "method_not_allowed");
    expect(get.headers.get("allow")).toBe("POST, OPTIONS");
    const healthPost = await w.json("/v1/healthz", post({}));
    expectError(healthPost, 405, "method_not_allowed");
    expect(healthPost.headers.get("allow")).toBe("GET");
  });

  it("answers CORS preflight and puts CORS headers on API responses, errors included", async () => {
    for (const p of ["/v1/search", "/v1/embed"]) {
      const res = await w.fetch(p, { method: "OPTIONS", headers: { Origin: "https://example.com", "Access-Control-Request-Method": "POST" } });
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    }
    const err = await w.json("/v1/search");
    expect(err.status).toBe(400);
    expect(err.headers.get("access-control-allow-origin")).toBe("*");
    const page = await w.fetch("/");
    expect(page.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("rejects missing, empty, whitespace-only and over-long queries (GET)", async () => {
    expectError(await w.json("/v1/search"), 400, "missing_query");
    expectError(await w.json("/v1/search?q="), 400, "empty_query");
    expectError(await w.json("/v1/search?q=%20%09%0A"), 400, "empty_query");
    expectError(await w.json(`/v1/search?q=${"x".repeat(51)}`), 400, "query_too_long");
    // 50 astral characters are 100 UTF-16 units but within a 50-character limit.
    // Valid, so it gets past validation to the model-only index: 503, not 400.
    expectError(await w.json(`/v1/search?q=${encodeURIComponent("🚀".repeat(50))}`), 503, "index_unavailable");
  });

  it("rejects k outside the integers 1..100", async () => {
    for (const k of ["0", "101", "-1", "1.5", "abc", "", "1e2"]) {
      expectError(await w.json(`/v1/search?q=hello&k=${encodeURIComponent(k)}`), 400, "invalid_k");
    }
    for (const k of [0, 101, 2.5, "10", null, true]) {
      const res = await w.json("/v1/search", post({ q: "hello", k }));
      if (k === null) expectError(res, 503, "index_unavailable"); // null means "use the default": valid, so past validation
      else expectError(res, 400, "invalid_k");
    }
  });

  it("rejects malformed POST bodies", async () => {
    expectError(await w.json("/v1/search", post("{not json")), 400, "invalid_json");
    expectError(await w.json("/v1/search", post("")), 400, "invalid_json");
    expectError(await w.json("/v1/search", post([1, 2])), 400, "invalid_body");
    expectError(await w.json("/v1/search", post("42")), 400, "invalid_body");
    expectError(await w.json("/v1/search", post({})), 400, "missing_query");
    expectError(await w.json("/v1/search", post({ q: 42 })), 400, "invalid_query");
    expectError(await w.json("/v1/search", post({ q: "   " })), 400, "empty_query");
    expectError(await w.json("/v1/search", post({ q: "a", queries: ["b"] })), 400, "invalid_body");
    expectError(await w.json("/v1/search", post({ queries: "b" })), 400, "invalid_body");
    expectError(await w.json("/v1/search", post({ queries: [] })), 400, "invalid_body");
    expectError(await w.json("/v1/search", post({ queries: ["ok", ""] })), 400, "empty_query");
    expectError(await w.json("/v1/search", post({ queries: ["ok", "y".repeat(51)] })), 400, "query_too_long");
    expectError(await w.json("/v1/search", post({ queries: Array(17).fill("q") })), 400, "batch_too_large");
    expectError(await w.json("/v1/search", post("x".repeat(600 * 1024))), 413, "body_too_large");
  });

  it("rejects malformed /embed bodies", async () => {
    expectError(await w.json("/v1/embed", post("nope")), 400, "invalid_json");
    expectError(await w.json("/v1/embed", post({})), 400, "invalid_body");
    expectError(await w.json("/v1/embed", post({ texts: "a" })), 400, "invalid_body");
    expectError(await w.json("/v1/embed", post({ texts: [] })), 400, "invalid_body");
    expectError(await w.json("/v1/embed", post({ texts: ["a", 3] })), 400, "invalid_query");
    expectError(await w.json("/v1/embed", post({ texts: ["  "] })), 400, "empty_query");
    expectError(await w.json("/v1/embed", post({ texts: Array(33).fill("t") })), 400, "batch_too_large");
    const ok = await w.json("/v1/embed", post({ texts: Array(32).fill("t") }));
    expect(ok.status).toBe(200);
    expect(ok.body.vectors).toHaveLength(32);
  });

  it("answers a search on a model-only manifest with 503 index_unavailable", async () => {
    const res = await w.json("/v1/search?q=hello");
    expectError(res, 503, "index_unavailable");
  });
});

describe("Worker with EMBED_ENDPOINT=off", () => {
  const w = suiteWorker({ vars: { EMBED_ENDPOINT: "off" } });

  it("refuses /embed with 403 embed_disabled, before touching KV", async () => {
    expectError(await w.json("/v1/embed", post({ texts: ["hello"] })), 403, "embed_disabled");
  });
});

describe("Worker with an empty KV", () => {
  const w = suiteWorker();

  it("reports index_unavailable on /healthz, /search and /embed", async () => {
    expectError(await w.json("/v1/healthz"), 503, "index_unavailable");
    expectError(await w.json("/v1/search?q=hello"), 503, "index_unavailable");
    expectError(await w.json("/v1/embed", post({ texts: ["hello"] })), 503, "index_unavailable");
  });

  it("reports a pointer that is not JSON as index_corrupt", async () => {
    await w.kv.put("current", "{oops");
    expectError(await w.json("/v1/healthz"), 503, "index_corrupt");
    await w.kv.delete("current");
  });
});
