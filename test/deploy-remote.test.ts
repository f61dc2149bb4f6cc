// The remote KV client against a local mock of the Cloudflare REST API: paging,
// bulk writes (base64 for binary) split at the API's limits, bulk deletes,
// retries with backoff on 429/5xx, clear failures otherwise; configuration from
// wrangler.toml/env; rollback and versions end to end over the REST client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { POINTER_KEY, manifestKeyFor } from "../lib/index/manifest.ts";
import { REGISTRY_KEY, REGISTRY_FORMAT } from "../scripts/deploy/registry.ts";
import { KvApiError, RemoteKv } from "../scripts/deploy/remote-kv.ts";
import { remoteConfig, tomlNamespaceId, TargetError } from "../scripts/deploy/target.ts";
import { main as rollbackMain } from "../scripts/commands/rollback.ts";
import { main as versionsMain } from "../scripts/commands/versions.ts";
import { main as deployMain } from "../scripts/commands/deploy.ts";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// ---- A local stand-in for the Cloudflare KV REST endpoints the deploy uses (127.0.0.1, fault injection, request log)
interface MockKv {
  url: string;
  /** The value bytes, as the API would store them. */
  store: Map<string, Buffer>;
  requests: Array<{ method: string; path: string; status: number; bodyBytes: number }>;
  /** Statuses to answer the next requests with, in order, before serving normally. */
  failNext: number[];
  /** Keys per list page (the real API allows up to 1000). */
  pageSize: number;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });

async function startMockKv(o: { account: string; namespace: string; token: string }): Promise<MockKv> {
  const store = new Map<string, Buffer>();
  const requests: MockKv["requests"] = [];
  const mock = { store, requests, failNext: [] as number[], pageSize: 3 } as MockKv;
  const prefix = `/client/v4/accounts/${o.account}/storage/kv/namespaces/${o.namespace}`;
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { success: false, errors: [{ code: 10000 + status, message }], messages: [], result: null }, headers);

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url!, "http://x");
    const body = await readBody(req);
    const log = (status: number) => requests.push({ method: req.method!, path: url.pathname + url.search, status, bodyBytes: body.byteLength });
    if (req.headers.authorization !== `Bearer ${o.token}`) return log(403), fail(res, 403, "Authentication error");
    const injected = mock.failNext.shift();
    if (injected) return log(injected), fail(res, injected, injected === 429 ? "rate limited" : "internal error", injected === 429 ? { "Retry-After": "0" } : {});
    if (!url.pathname.startsWith(prefix + "/")) return log(404), fail(res, 404, "namespace not found");
    const rest = url.pathname.slice(prefix.length);
    if (req.method === "GET" && rest === "/keys") {
      const p = url.searchParams.get("prefix") ?? "";
      const names = [...store.keys()].filter((k) => k.startsWith(p)).sort();
      const start = Number(url.searchParams.get("cursor") || 0);
      const limit = Math.min(Number(url.searchParams.get("limit") || 1000), mock.pageSize);
      const page = names.slice(start, start + limit);
      const cursor = start + limit < names.length ? String(start + limit) : "";
      log(200);
      return send(res, 200, { success: true, errors: [], result: page.map((name) => ({ name })), result_info: { count: page.length, cursor } });
    }
    if (req.method === "PUT" && rest === "/bulk") {
      const pairs = JSON.parse(body.toString("utf8")) as Array<{ key: string; value: string; base64?: boolean }>;
      if (pairs.length > 10_000) return log(413), fail(res, 413, "too many pairs");
      for (const p of pairs) store.set(p.key, p.base64 ? Buffer.from(p.value, "base64") : Buffer.from(p.value, "utf8"));
      log(200);
      return send(res, 200, { success: true, errors: [], result: { successful_key_count: pairs.length, unsuccessful_keys: [] } });
    }
    if (req.method === "POST" && rest === "/bulk/delete") {
      const keys = JSON.parse(body.toString("utf8")) as string[];
      for (const k of keys) store.delete(k);
      log(200);
      return send(res, 200, { success: true, errors: [], result: { successful_key_count: keys.length } });
    }
    if (rest.startsWith("/values/")) {
      const key = decodeURIComponent(rest.slice("/values/".length));
      if (req.method === "GET") {
        const v = store.get(key);
        if (!v) return log(404), fail(res, 404, "key not found");
        log(200);
        res.writeHead(200, { "Content-Type": "application/octet-stream" });
        return res.end(v);
      }
      if (req.method === "PUT") {
        store.set(key, body);
        log(200);
        return send(res, 200, { success: true, errors: [], result: null });
      }
    }
    log(405);
    fail(res, 405, `no route ${req.method} ${rest}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  mock.url = `http://127.0.0.1:${port}/client/v4`;
  mock.close = () => new Promise((r) => server.close(() => r()));
  return mock;
}

const ACCOUNT = "acc123";
const NS = "ns456";
const TOKEN = "test-token";

let mock: MockKv;
const client = (o: Partial<ConstructorParameters<typeof RemoteKv>[0]> = {}) =>
  new RemoteKv({ accountId: ACCOUNT, namespaceId: NS, apiToken: TOKEN, apiBase: mock.url, backoffMs: 1, ...o });

beforeAll(async () => {
  mock = await startMockKv({ account: ACCOUNT, namespace: NS, token: TOKEN });
});
afterAll(() => mock.close());
afterEach(() => {
  mock.store.clear();
  mock.requests.length = 0;
  mock.failNext = [];
});

describe("RemoteKv", () => {
  it("bulk-writes text and binary values in chunks, lists with a cursor, reads and bulk-deletes", async () => {
    const kv = client({ maxPairs: 4 });
    const binary = new Uint8Array([0, 1, 2, 250, 255, 128]);
    const entries = Array.from({ length: 9 }, (_, i) => ({ key: `item/${i}`, value: `{"n":${i},"t":"é ✓"}` as string | ArrayBuffer }));
    entries.push({ key: "blob/w", value: binary.buffer.slice(0) });
    await kv.putMany(entries);
    expect(mock.requests.filter((r) => r.path.endsWith("/bulk"))).toHaveLength(3); // 10 pairs, ≤4 a request
    expect(mock.store.get("blob/w")).toEqual(Buffer.from(binary));
    expect(await kv.get("item/3")).toBe('{"n":3,"t":"é ✓"}');
    expect(await kv.get("item/missing")).toBeNull();

    mock.requests.length = 0;
    const items = await kv.listKeys("item/");
    expect([...items].sort()).toEqual(entries.slice(0, 9).map((e) => e.key));
    expect(mock.requests.filter((r) => r.path.includes("/keys?"))).toHaveLength(3); // pages of 3
    expect(mock.requests.some((r) => r.path.includes("cursor=3"))).toBe(true);

    await kv.put(POINTER_KEY, '{"version":"x"}');
    expect(await kv.get(POINTER_KEY)).toBe('{"version":"x"}');
    const many = await kv.getMany(["item/0", "item/1", "nope"]);
    expect([...many.entries()].sort()).toEqual([["item/0", '{"n":0,"t":"é ✓"}'], ["item/1", '{"n":1,"t":"é ✓"}'], ["nope", null]]);

    await kv.delete(["item/0", "item/1", "item/2", "item/3", "item/4"]);
    expect(mock.requests.filter((r) => r.path.endsWith("/bulk/delete"))).toHaveLength(2);
    expect([...(await kv.listKeys("item/"))].sort()).toEqual(["item/5", "item/6", "item/7", "item/8"]);
  });

  it("splits bulk writes by body size too", async () => {
    const kv = client({ maxBodyBytes: 250 });
    await kv.putMany(Array.from({ length: 6 }, (_, i) => ({ key: `item/${i}`, value: "x".repeat(80) })));
    expect(mock.requests.filter((r) => r.path.endsWith("/bulk")).length).toBeGreaterThanOrEqual(3);
    expect(mock.store.size).toBe(6);
  });

  it("splits bulk writes by UTF-8 bytes, not UTF-16 length, for multi-byte text", async () => {
    const maxBodyBytes = 250;
    const kv = client({ maxBodyBytes });
    // 40 CJK characters: 40 UTF-16 units but 120 bytes, so three pairs fit by length and only one by bytes.
    const text = "漢字かな".repeat(10);
    const entries = Array.from({ length: 4 }, (_, i) => ({ key: `item/${i}`, value: text }));
    await kv.putMany(entries);
    const bulk = mock.requests.filter((r) => r.path.endsWith("/bulk"));
    expect(bulk).toHaveLength(4);
    for (const r of bulk) expect(r.bodyBytes).toBeLessThanOrEqual(maxBodyBytes);
    for (const e of entries) expect(mock.store.get(e.key)?.toString("utf8")).toBe(text);
  });

  it("retries 429 and 5xx with backoff, then succeeds", async () => {
    const retries: string[] = [];
    const kv = client({ onRetry: (what, attempt, reason) => retries.push(`${what} #${attempt}: ${reason}`) });
    mock.failNext = [429, 503, 500];
    await kv.putMany([{ key: "item/a", value: "1" }]);
    expect(mock.store.get("item/a")?.toString()).toBe("1");
    expect(kv.retries).toBe(3);
    expect(retries[0]).toMatch(/bulk write of 1 values #1: HTTP 429: 10429 rate limited/);
  });

  it("gives up after the last attempt and fails at once on other errors", async () => {
    const kv = client({ attempts: 3 });
    mock.failNext = [502, 502, 502, 502];
    await expect(kv.get("item/a")).rejects.toThrow(/gave up after 3 attempts \(HTTP 502/);
    mock.failNext = [];
    const bad = new RemoteKv({ accountId: ACCOUNT, namespaceId: NS, apiToken: "wrong", apiBase: mock.url, backoffMs: 1 });
    const err = await bad.put("k", "v").catch((e) => e);
    expect(err).toBeInstanceOf(KvApiError);
    expect(err.message).toMatch(/put k: HTTP 403: 10403 Authentication error/);
    expect(mock.requests.filter((r) => r.status === 403)).toHaveLength(1); // not retried
  });
});

describe("remote configuration", () => {
  // wrangler's reader reads files: each config text goes to its own temp wrangler.toml.
  const dir = mkdtempSync(path.join(os.tmpdir(), "ess-wrangler-toml-"));
  let n = 0;
  const file = (text: string) => {
    const f = path.join(dir, `wrangler-${n++}.toml`);
    writeFileSync(f, text);
    return f;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const toml = (extra: string) => file(`name = "x"\n[[kv_namespaces]]\nbinding = "INDEX"\n${extra}\n[vars]\nA = "1"\n`);
  it("takes the namespace id from wrangler.toml's INDEX binding or KV_NAMESPACE_ID", () => {
    expect(tomlNamespaceId(toml('id = "abc"\npreview_id = "INDEX"'))).toBe("abc");
    expect(tomlNamespaceId(toml(""))).toBeUndefined();
    expect(tomlNamespaceId(file(`[[kv_namespaces]]\nbinding = "OTHER"\nid = "zzz"\n`))).toBeUndefined();
    // Indented TOML is still TOML (the regex readers disagreed on this).
    expect(tomlNamespaceId(file(`name = "x"\n  [[kv_namespaces]]\n    binding = "INDEX"\n    id = "indented"\n`))).toBe("indented");
    const env = { CLOUDFLARE_API_TOKEN: "t", CLOUDFLARE_ACCOUNT_ID: "a" };
    expect(remoteConfig(env, toml('id = "abc"')).namespaceId).toBe("abc");
    expect(remoteConfig({ ...env, KV_NAMESPACE_ID: "fromenv" }, toml('id = "abc"')).namespaceId).toBe("fromenv");
  });

  it("explains what is missing and points at the setup docs", () => {
    expect(() => remoteConfig({}, toml(""))).toThrow(TargetError);
    expect(() => remoteConfig({}, toml(""))).toThrow(/wrangler\.toml has no `id`.*CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID; see docs\/deploy\.md/);
  });

  it("deploy exits 2 with that message when the remote namespace is not configured", async () => {
    const saved = { ...process.env };
    delete process.env.KV_NAMESPACE_ID;
    delete process.env.CLOUDFLARE_API_TOKEN;
    delete process.env.CLOUDFLARE_ACCOUNT_ID;
    const err: string[] = [];
    try {
      expect(await deployMain(["--corpus", "whatever.csv"], { err: (s) => err.push(s), out: () => {} })).toBe(2);
    } finally {
      process.env = saved;
    }
    expect(err.join("\n")).toMatch(/cannot reach the remote KV namespace.*docs\/deploy\.md/);
  });
});

describe("rollback and versions over the REST API", () => {
  it("lists kept versions and rolls back with one pointer write", async () => {
    const blob = (k: string, v: string) => mock.store.set(k, Buffer.from(v));
    blob("blob/t", "{}");
    blob("blob/w", "w");
    blob("blob/v", "v");
    const ref = (key: string) => ({ key, bytes: 1, sha256: "0".repeat(64) });
    const model = { id: "m", dim: 512, topology: ref("blob/t"), weights: ref("blob/w"), vocab: ref("blob/v") };
    const entry = (version: string, switchedAt: string, items: number) => ({
      version,
      manifestKey: manifestKeyFor(version),
      createdAt: switchedAt,
      deployedAt: switchedAt,
      switchedAt,
      items,
      recallAt10: 0.97,
      corpus: { file: "c.csv", sha256: "s" },
    });
    for (const [v, items] of [["aaaa1111", 10], ["bbbb2222", 12]] as const) blob(manifestKeyFor(v), JSON.stringify({ version: v, createdAt: "2026-01-01T00:00:00Z", model, items }));
    blob(REGISTRY_KEY, JSON.stringify({ format: REGISTRY_FORMAT, versions: [entry("aaaa1111", "2026-01-01T00:00:00.000Z", 10), entry("bbbb2222", "2026-01-02T00:00:00.000Z", 12)] }));
    blob(POINTER_KEY, JSON.stringify({ version: "bbbb2222", manifestKey: manifestKeyFor("bbbb2222"), switchedAt: "2026-01-02T00:00:00.000Z" }));

    const saved = { ...process.env };
    Object.assign(process.env, { CLOUDFLARE_API_BASE_URL: mock.url, CLOUDFLARE_API_TOKEN: TOKEN, CLOUDFLARE_ACCOUNT_ID: ACCOUNT, KV_NAMESPACE_ID: NS });
    const out: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
    try {
      expect(await versionsMain([], io)).toBe(0);
      expect(out.join("\n")).toMatch(/\*\s+bbbb2222\s+2026-01-02 00:00:00\s+2026-01-02 00:00:00\s+12\s+0\.970\s+c\.csv/);
      mock.requests.length = 0;
      expect(await rollbackMain(["--to", "aaaa"], io)).toBe(0);
      expect(JSON.parse(mock.store.get(POINTER_KEY)!.toString()).version).toBe("aaaa1111");
      expect(mock.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/values/${POINTER_KEY}`))).toHaveLength(1);
      expect(await rollbackMain(["--to", "cccc"], io)).toBe(2);
      expect(out.join("\n")).toMatch(/version "cccc" is not kept/);
      // A version with a missing value is not switched to.
      mock.store.delete("blob/v");
      expect(await rollbackMain(["--to", "bbbb2222"], io)).toBe(2);
      expect(out.join("\n")).toMatch(/incomplete in KV \(1 values missing, e\.g\. blob\/v\)/);
      expect(JSON.parse(mock.store.get(POINTER_KEY)!.toString()).version).toBe("aaaa1111");
    } finally {
      process.env = saved;
    }
  });
});
