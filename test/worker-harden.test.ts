// Issue 24, "harden it for the open internet", against the Worker in workerd on
// the real index: each finding as the exact request, with its exact status and
// code. Costs are checked by what a request is refused or charged, never by
// timing (scripts/bench/hostile-cost.ts measures the CPU).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wranglerRatelimits } from "../scripts/local/harness.ts";
import { hashKey, newKey, type KeyRecord } from "../functions/keys.ts";
import { POINTER_KEY } from "../lib/index/manifest.ts";
import { post, startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { atWindowStart } from "./helpers/rate-window.ts";
import { runCostProbes } from "../scripts/reliability/cost-probes.ts";

function expectEnvelope(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(status);
  expect(Object.keys(res.body)).toEqual(["error"]);
  expect(res.body.error.code).toBe(code);
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({ ...post(body), headers: { "Content-Type": "application/json", ...headers } });
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** Keys of every kind, and their API_KEYS secret. */
async function keyring() {
  const keys = { backend: newKey(), fleet: newKey(), admin: newKey(), token: "legacy-embed-token" };
  const records: KeyRecord[] = [
    { name: "backend", sha256: await hashKey(keys.backend), scopes: ["search"] },
    { name: "fleet", sha256: await hashKey(keys.fleet), scopes: ["embed"] },
    { name: "ops", sha256: await hashKey(keys.admin), scopes: ["search", "admin"] },
  ];
  return { keys, vars: { API_KEYS: JSON.stringify(records), EMBED_TOKEN: keys.token } };
}

describe("bounded cost per request", () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker({ index: true, vars: { RATE_LIMITS: "off", SEARCH_CACHE_SECONDS: "0" } });
  });
  afterAll(async () => w?.dispose());

  it("the character limit counts the NFKC form: U+FDFA × 1,000 (18,000 characters there) is 400 query_too_long at once", async () => {
    expectEnvelope(await w.json("/v1/search", json({ q: "\uFDFA".repeat(1000) })), 400, "query_too_long");
    expectEnvelope(await w.json(`/v1/search?q=${encodeURIComponent("\uFDFA".repeat(1000))}`), 400, "query_too_long");
    expectEnvelope(await w.json("/v1/search", json({ queries: Array(16).fill("\uFDFA".repeat(1000)) })), 400, "query_too_long");
    // 55 of them are 990 characters after NFKC: legal, and answered.
    const legal = await w.json("/v1/search", json({ q: "\uFDFA".repeat(55), k: 3 }));
    expect(legal.status, JSON.stringify(legal.body).slice(0, 200)).toBe(200);
    expect(legal.body.results).toHaveLength(3);
  });

  it("a batch of legal hostile texts over the token budget is 400 too_many_tokens, without counting past the cap", async () => {
    const res = await w.json("/v1/search", json({ queries: Array(16).fill("\uFDFA".repeat(55)) }));
    expectEnvelope(res, 400, "too_many_tokens");
    expect(res.body.error.message).toMatch(/at most 1024 tokens/);
  });

  it("npm run loadtest's costly-input probes: no 5xx, every refusal the error envelope", async () => {
    const report = await runCostProbes(w.fetch, { bystanderRuns: 1 });
    console.log(`costly input: ${report.cases} requests, statuses ${JSON.stringify(report.statuses)}, slowest ${report.slowestMs} ms (${report.slowest}), bystander ${report.bystander.usualMs} ms alone, ${report.bystander.duringMs} ms during hostile batches, ${report.bystander.duringLegalMs} ms during the costliest legal ones`);
    expect(report.violations).toEqual([]);
    expect(report.cases).toBe(8 * 4 + 3 * 2 + 1 + 4 + 4);
    expect(Object.keys(report.statuses).every((s) => Number(s) < 500)).toBe(true);
    // U+FDFA x 1,000 and U+3300 x 1,000 are refused before any tokenizing, in every form.
    expect(report.statuses["400"]).toBeGreaterThanOrEqual(8 + 3 * 2);
  });

  it("a filter nested 100,000 deep is 400 filter_too_large, not 500 internal", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    expectEnvelope(await w.json("/v1/search", json(`{"q":"rain","filter":${deep}}`)), 400, "filter_too_large");
    expectEnvelope(await w.json("/v1/search", json(`{"queries":[{"q":"rain","filter":${deep}}]}`)), 400, "filter_too_large");
    let obj = '{"a":1}';
    for (let i = 0; i < 8; i++) obj = `{"$or":[${obj}]}`;
    expectEnvelope(await w.json("/v1/search", json(`{"q":"rain","filter":${obj}}`)), 400, "filter_too_large");
  });
});

describe("the KV cost of the costliest legal search", () => {
  let w: TestWorker;
  beforeAll(async () => {
    // Cold, nothing resident, no cache: every value the batch needs is read from KV.
    w = await startTestWorker({ index: true, vars: { RATE_LIMITS: "off", RESIDENT_KIB: "0", SEARCH_CACHE_SECONDS: "0", SHARD_CACHE_KIB: "0", RECORD_CACHE_KIB: "0" } });
  });
  afterAll(async () => w?.dispose());

  it("16 filtered k=100 queries: each query's KV rounds and keys stay bounded (figures for docs/operations.md)", async () => {
    const filter = { publish_date: { $gte: "2003-06-01" } };
    const res = await w.json("/v1/search", json({ queries: Array.from({ length: 16 }, (_, i) => `council rates rise ${i}`), k: 100, filter }));
    expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
    const stats = (res.body.answers as Array<{ stats: { shards: number; records: number; bytes: number; fetched_bytes: number; round_trips: number } }>).map((r) => r.stats);
    const sum = (f: (s: (typeof stats)[number]) => number) => stats.reduce((a, s) => a + f(s), 0);
    const max = (f: (s: (typeof stats)[number]) => number) => Math.max(...stats.map(f));
    console.log(
      `16 filtered k=100 queries, cold, 2,000-item index: per query at most ${max((s) => s.round_trips)} KV rounds, ${max((s) => s.shards)} shards/chunks, ${max((s) => s.records)} records, ${max((s) => s.fetched_bytes)} bytes read; request total ${sum((s) => s.shards + s.records)} keys, ${sum((s) => s.fetched_bytes)} bytes read`,
    );
    for (const s of stats) expect(s.round_trips).toBeLessThanOrEqual(3);
  });
});

describe("limits that count cost, and API keys", () => {
  let w: TestWorker;
  let keys: Awaited<ReturnType<typeof keyring>>["keys"];
  beforeAll(async () => {
    const ring = await keyring();
    keys = ring.keys;
    w = await startTestWorker({ index: true, ratelimits: wranglerRatelimits(), vars: { ...ring.vars, SEARCH_CACHE_SECONDS: "0" } });
  });
  afterAll(async () => w?.dispose());

  it("wrangler.toml declares the four limiters, in units per 10 s", () => {
    expect(wranglerRatelimits()).toEqual({
      SEARCH_LIMITER: { simple: { limit: 100, period: 10 } },
      EMBED_LIMITER: { simple: { limit: 64, period: 10 } },
      KEY_LIMITER: { simple: { limit: 1000, period: 10 } },
      KEY_BULK_LIMITER: { simple: { limit: 10000, period: 10 } },
    });
  });

  it("a batch charges per query: of four batches of 16 k=100 queries (32 units each, 128 in all) sent at once, at most three pass", async () => {
    const client = { "CF-Connecting-IP": "203.0.113.50" };
    const batch = json({ queries: Array.from({ length: 16 }, (_, i) => `rain ${i}`), k: 100 }, client);
    // All at once, at the start of a period: the units are charged before any embedding.
    await atWindowStart();
    const answers = await Promise.all(Array.from({ length: 4 }, () => w.json("/v1/search", batch)));
    const limited = answers.filter((r) => r.status === 429);
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited.length + answers.filter((r) => r.status === 200).length).toBe(4);
    expectEnvelope(limited[0], 429, "rate_limited");
    expect(limited[0].headers.get("retry-after")).toBe("10");
  });

  it("an IPv6 client is its /64: another address in it shares the bucket, the next /64 does not", async () => {
    const a = { "CF-Connecting-IP": "2001:db8:1:2::1" };
    await atWindowStart();
    await Promise.all(Array.from({ length: 100 }, () => w.json("/v1/fields", { headers: a })));
    expectEnvelope(await w.json("/v1/fields", { headers: { "CF-Connecting-IP": "2001:0db8:0001:0002:ffff:0:0:9" } }), 429, "rate_limited");
    expect((await w.json("/v1/fields", { headers: { "CF-Connecting-IP": "2001:db8:1:3::1" } })).status).toBe(200);
  });

  it("/healthz, /examples and /fields are limited too", async () => {
    const c = { "CF-Connecting-IP": "198.51.100.77" };
    await atWindowStart();
    await Promise.all(Array.from({ length: 100 }, () => w.json("/v1/healthz", { headers: c })));
    for (const p of ["/v1/healthz", "/v1/examples", "/v1/fields"]) expectEnvelope(await w.json(p, { headers: c }), 429, "rate_limited");
  });

  it("a keyed backend makes 300 sequential searches without a 429 while an anonymous client on the same address is limited", async () => {
    const local = { "CF-Connecting-IP": "192.0.2.10" };
    for (let i = 0; i < 300; i++) {
      const res = await w.json(`/v1/search?q=${encodeURIComponent(`council rates ${i}`)}&k=5`, { headers: { ...local, ...bearer(keys.backend) } });
      expect(res.status, `search ${i}: ${JSON.stringify(res.body).slice(0, 200)}`).toBe(200);
    }
    await atWindowStart();
    const anonymous = await Promise.all(Array.from({ length: 101 }, () => w.json("/v1/search?q=x&k=0", { headers: local })));
    expect(anonymous.filter((r) => r.status === 429)).toHaveLength(1);
  });

  it("/embed fails closed: 401 without a key, 403 with a search-only key, 401 with an unknown key; the fleet key and EMBED_TOKEN embed", async () => {
    const body = { texts: ["drought hits farmers"] };
    const none = await w.json("/v1/embed", json(body));
    expectEnvelope(none, 401, "unauthorized");
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    // Refused before the body is read, yet answered whole (the body is drained, not reset): 10 MB without a key.
    expectEnvelope(await w.json("/v1/embed", { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x".repeat(10 * 2 ** 20) }), 401, "unauthorized");
    expectEnvelope(await w.json("/v1/embed", json(body, bearer(keys.backend))), 403, "insufficient_scope");
    expectEnvelope(await w.json("/v1/embed", json(body, bearer("ess_not-a-key"))), 401, "invalid_key");
    expectEnvelope(await w.json("/v1/search?q=rain", { headers: bearer("ess_not-a-key") }), 401, "invalid_key");
    for (const key of [keys.fleet, keys.token]) {
      const ok = await w.json("/v1/embed", json(body, bearer(key)));
      expect(ok.status).toBe(200);
      expect(ok.body.vectors).toHaveLength(1);
    }
    // The fleet's key counts in the bulk tier: 64 texts at once is more than anonymous /embed could ever send.
    for (let i = 0; i < 3; i++) expect((await w.json("/v1/embed", json({ texts: Array(32).fill("a") }, bearer(keys.fleet)))).status).toBe(200);
  });

  it("/healthz tells internals to an admin key only", async () => {
    const h = { "CF-Connecting-IP": "192.0.2.99" };
    const pub = await w.json("/v1/healthz", { headers: h });
    expect(pub.status).toBe(200);
    expect(Object.keys(pub.body).sort()).toEqual(["items", "model", "status", "version"]);
    expect(pub.headers.get("x-model-loads")).toBeNull();
    const searchKey = await w.json("/v1/healthz", { headers: { ...h, ...bearer(keys.backend) } });
    expect(Object.keys(searchKey.body).sort()).toEqual(["items", "model", "status", "version"]);
    const admin = await w.json("/v1/healthz", { headers: bearer(keys.admin) });
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({ status: "ok", model_loads: 1 });
    expect(admin.body.memory.wasm_heap_bytes).toBeGreaterThan(0);
  });
});

describe("surface", () => {
  let w: TestWorker;
  let admin: string;
  beforeAll(async () => {
    admin = newKey();
    const records: KeyRecord[] = [{ name: "ops", sha256: await hashKey(admin), scopes: ["search", "admin"] }];
    w = await startTestWorker({ index: true, vars: { RATE_LIMITS: "off", PUBLIC_DIAGNOSTICS: "off", API_KEYS: JSON.stringify(records) } });
  });
  afterAll(async () => w?.dispose());

  it("every response says nosniff and none says X-Model-Loads", async () => {
    for (const [p, init] of [["/", {}], ["/v1/healthz", {}], ["/v1/search?q=rain", {}], ["/v1/search", json({ q: "rain" })], ["/nope", {}], ["/v1/search?k=0", {}]] as const) {
      const res = await w.fetch(p, init);
      await res.arrayBuffer();
      expect(res.headers.get("x-content-type-options"), p).toBe("nosniff");
      expect(res.headers.get("x-model-loads"), p).toBeNull();
    }
  });

  it("a cache hit is not labelled to the public, echoes the requester's own filter spelling, and an admin key sees it", async () => {
    const fields = (await w.json("/v1/fields")).body.fields as Array<{ name: string; type: string }>;
    const q = "bushfire threatens homes";
    expect((await w.json(`/v1/search?q=${encodeURIComponent(q)}&k=4`)).status).toBe(200);
    let hit = await w.json(`/v1/search?q=${encodeURIComponent(q)}&k=4`, { headers: bearer(admin) });
    for (let i = 0; i < 20 && hit.headers.get("x-search-cache") !== "hit"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      hit = await w.json(`/v1/search?q=${encodeURIComponent(q)}&k=4`, { headers: bearer(admin) });
    }
    expect(hit.headers.get("x-search-cache")).toBe("hit");
    const pub = await w.json(`/v1/search?q=${encodeURIComponent(q)}&k=4`);
    expect(pub.status).toBe(200);
    expect(pub.headers.get("x-search-cache")).toBeNull();
    expect(pub.body.results).toEqual(hit.body.results);
    // Two spellings of one filter share an entry; each requester sees its own.
    expect(fields.map((f) => f.name)).toContain("publish_date");
    const spelled = ['{"publish_date":{"$gte":"20030601"}}', '{"publish_date":{"$gte":"2003-06-01"}}'];
    const first = await w.json(`/v1/search?q=rain&filter=${encodeURIComponent(spelled[0])}`);
    expect(first.status, JSON.stringify(first.body).slice(0, 200)).toBe(200);
    let second = await w.json(`/v1/search?q=rain&filter=${encodeURIComponent(spelled[1])}`, { headers: bearer(admin) });
    for (let i = 0; i < 20 && second.headers.get("x-search-cache") !== "hit"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      second = await w.json(`/v1/search?q=rain&filter=${encodeURIComponent(spelled[1])}`, { headers: bearer(admin) });
    }
    expect(second.headers.get("x-search-cache")).toBe("hit");
    expect(second.body.filter).toEqual(JSON.parse(spelled[1]));
    expect(second.body.results).toEqual(first.body.results);
  });

  it("a 503 says nothing of KV keys or platform errors; an admin key's /healthz has the detail; a manifest the pointer's hash does not match is not served", async () => {
    const pointer = JSON.parse((await w.kv.get(POINTER_KEY))!) as { version: string; manifestKey: string; switchedAt: string };
    const fresh = await startTestWorker({ vars: { RATE_LIMITS: "off", PUBLIC_DIAGNOSTICS: "off", API_KEYS: JSON.stringify([{ name: "ops", sha256: await hashKey(admin), scopes: ["admin"] }]) } });
    try {
      const res = await fresh.json("/v1/search?q=rain");
      expectEnvelope(res, 503, "index_unavailable");
      expect(res.body.error.message).not.toMatch(/KV|current|manifest\//);
      const detail = await fresh.json("/v1/healthz", { headers: bearer(admin) });
      expect(detail.status).toBe(503);
      expectEnvelope(detail, 503, "index_unavailable");
      expect(detail.body.error.message).toMatch(/current/);
      expect((await fresh.json("/v1/healthz")).body.error.message).not.toMatch(/current/);
      // A pointer whose manifest hash is not the stored manifest's.
      const manifest = await w.kv.get(pointer.manifestKey);
      await fresh.kv.put(pointer.manifestKey, manifest!);
      await fresh.kv.put(POINTER_KEY, JSON.stringify({ ...pointer, manifestSha256: "0".repeat(64) }));
      expectEnvelope(await fresh.json("/v1/search?q=rain"), 503, "index_corrupt");
      const why = await fresh.json("/v1/healthz", { headers: bearer(admin) });
      expect(why.body.error.message).toMatch(/sha256 differs/);
    } finally {
      await fresh.dispose();
    }
  });
});

describe("configuration errors refuse to serve", () => {
  it.each([
    ["a missing rate-limit binding", {}, undefined],
    ["an empty ALLOWED_ORIGINS", { RATE_LIMITS: "off", ALLOWED_ORIGINS: " " }, undefined],
    ["an API_KEYS that is not a key list", { RATE_LIMITS: "off", API_KEYS: "{not json" }, undefined],
  ] as const)("%s: every request is 503 misconfigured, and the log says why", async (_what, vars, ratelimits) => {
    const lines: string[] = [];
    const w = await startTestWorker({ seedModel: true, vars: { RATE_LIMITS: "on", ...vars }, ratelimits, onLog: (l) => lines.push(l) });
    try {
      const res = await w.json("/v1/search?q=rain");
      expectEnvelope(res, 503, "misconfigured");
      expect(res.body.error.message).not.toMatch(/ALLOWED_ORIGINS|API_KEYS|LIMITER/);
      expectEnvelope(await w.json("/v1/healthz"), 503, "misconfigured");
      await new Promise((r) => setTimeout(r, 200));
      expect(lines.join("\n")).toMatch(/configuration error: /);
    } finally {
      await w.dispose();
    }
  });
});
