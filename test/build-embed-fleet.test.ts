// The build's embedding on a Worker fleet (`--embed-url`), against two real
// Workers in local workerd (the deployed bundle, the real float16 model, /embed
// behind EMBED_TOKEN as today's functions/access.ts wants), each behind a local
// fault proxy (test/helpers/fault-proxy.ts) that counts requests and injects
// 429s, 5xx, dropped connections and wrong vectors.
import { proxyQueries } from "../scripts/builder/check/perturb.ts";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCorpus, type CorpusItem } from "../scripts/builder/corpus/read-corpus.ts";
import { EmbeddingCache, textHash } from "../scripts/builder/embedding/cache.ts";
import { EmbeddingPool } from "../scripts/builder/pools/embed-pool.ts";
import { prepareModel } from "../scripts/builder/embedding/node-model.ts";
import { RemoteEmbedder, RemoteEmbedError, retryAfterMs, type RemoteOptions } from "../scripts/builder/embedding/remote.ts";
import { CHECK_SAMPLE, embedCorpusRemote, MIN_COSINE } from "../scripts/builder/embedding/remote-corpus.ts";
import { EMBEDDING_DIM } from "../lib/model/embed.ts";
import { HEADLINES_CSV, headlines as headlineRows, runCli, writeHeadlinesCsv } from "./helpers/build-fixtures.ts";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";
import { nudge, startFaultProxy, type Fault, type FaultProxy } from "./helpers/fault-proxy.ts";
import { startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { cosine } from "./helpers/stats.ts";

const TOKEN = "fleet-test-token";
/**
 * /embed behind EMBED_TOKEN, as functions/access.ts takes it today. RATE_LIMITS
 * "off" is for the keyed limits of issue 24, under which a Worker with no
 * rate-limit bindings (as here) refuses every request unless told it is a test.
 */
const WORKER_VARS = { EMBED_TOKEN: TOKEN, RATE_LIMITS: "off" };
const quietLog = () => {};

let workers: TestWorker[] = [];
let pool: EmbeddingPool;
let modelId: string;
let headlines: CorpusItem[];
const tmpDirs: string[] = [];

async function tmpCache(): Promise<EmbeddingCache> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "ess-fleet-cache-"));
  tmpDirs.push(dir);
  return new EmbeddingCache(dir, modelId);
}

async function cacheRows(cache: EmbeddingCache): Promise<number> {
  try {
    return (await stat(cache.file)).size / (32 + EMBEDDING_DIM * 4);
  } catch {
    return 0;
  }
}

function embedder(proxies: FaultProxy[], o: Partial<RemoteOptions> = {}): RemoteEmbedder {
  return new RemoteEmbedder({ urls: proxies.map((p) => p.url), token: TOKEN, concurrency: 4, batchSize: 16, backoffMs: 20, ...o }, modelId);
}

/** Every vector at cosine ≥ MIN_COSINE with the local model's for its text. */
async function expectLikeLocal(items: CorpusItem[], vectors: Float32Array): Promise<void> {
  const local = await pool.embed(items.map((i) => i.text));
  let worst = 1;
  local.forEach((v, i) => (worst = Math.min(worst, cosine(v, vectors.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM)))));
  expect(worst).toBeGreaterThanOrEqual(MIN_COSINE);
}

beforeAll(async () => {
  const report = {} as Parameters<typeof readCorpus>[2];
  headlines = [];
  for await (const it of readCorpus(HEADLINES_CSV, {}, report)) headlines.push(it);
  modelId = (await prepareModel()).modelId;
  workers = await Promise.all([0, 1].map(() => startTestWorker({ seedModel: true, vars: WORKER_VARS })));
  pool = new EmbeddingPool(2);
  await pool.warmUp();
});

afterAll(async () => {
  await pool?.close();
  await Promise.all(workers.map((w) => w.dispose()));
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("embedding on two local Workers", () => {
  it("spreads the batches over both, sends the token, and gets the local model's vectors; a rerun sends nothing", async () => {
    const proxies = await Promise.all(workers.map((w) => startFaultProxy(w.url)));
    try {
      const items = headlines.slice(0, 240);
      const cache = await tmpCache();
      const r = await embedCorpusRemote(items, EMBEDDING_DIM, cache, pool, embedder(proxies), quietLog, true);
      expect(r.computed).toBe(new Set(items.map((i) => i.text)).size);
      expect(r.cached).toBe(0);
      expect(r.remote.local).toBe(CHECK_SAMPLE);
      expect(r.remote.embedded + r.remote.local).toBe(r.computed);
      // Both Workers took part: the check (one request each) and a share of the batches.
      for (const p of proxies) {
        expect(p.requests.length).toBeGreaterThan(2);
        expect(new Set(p.requests.map((q) => q.authorization))).toEqual(new Set([`Bearer ${TOKEN}`]));
      }
      // Each text went out once outside the check: no batch was sent twice.
      const sent = proxies.flatMap((p) => p.requests.slice(1).flatMap((q) => q.texts));
      expect(sent.length).toBe(r.remote.embedded);
      expect(new Set(sent).size).toBe(sent.length);
      expect(r.remote.checkMinCosine.every((c) => c >= MIN_COSINE)).toBe(true);
      expect(r.remote.stats.reduce((a, s) => a + s.embedMs, 0)).toBeGreaterThan(0);
      await expectLikeLocal(items, r.vectors);
      expect(await cacheRows(cache)).toBe(r.computed);

      const before = proxies.map((p) => p.requests.length);
      const again = await embedCorpusRemote(items, EMBEDDING_DIM, cache, pool, embedder(proxies), quietLog, true);
      expect(again.computed).toBe(0);
      expect(again.cached).toBe(items.length);
      expect(proxies.map((p) => p.requests.length)).toEqual(before);
      expect(Buffer.from(again.vectors.buffer).equals(Buffer.from(r.vectors.buffer))).toBe(true);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it("refuses a wrong token at once with a clear error, without retrying", async () => {
    const proxy = await startFaultProxy(workers[0].url);
    try {
      const cache = await tmpCache();
      const err = await embedCorpusRemote(headlines.slice(0, 40), EMBEDDING_DIM, cache, pool, embedder([proxy], { token: "wrong" }), quietLog, true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteEmbedError);
      expect((err as RemoteEmbedError).code).toBe("unauthorized");
      expect((err as Error).message).toMatch(/HTTP 401 invalid_key.*check --embed-token/);
      expect(proxy.requests).toHaveLength(1);
      expect(await cacheRows(cache)).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it("splits a batch the Worker finds too large and embeds locally a text longer than its limit", async () => {
    const small = await startTestWorker({ seedModel: true, vars: { ...WORKER_VARS, MAX_EMBED_TEXTS: "8" } });
    const proxy = await startFaultProxy(small.url);
    try {
      const long: CorpusItem = { id: "long", text: `${"a very long headline ".repeat(60)}end`, meta: {} };
      const items = [...headlines.slice(300, 380), long];
      const r = await embedCorpusRemote(items, EMBEDDING_DIM, await tmpCache(), pool, embedder([proxy]), quietLog, true);
      expect(r.remote.stats[0].tooLarge).toBeGreaterThan(0);
      // Every request of more than 8 texts came back too large, and was halved.
      expect(r.remote.stats[0].tooLarge).toBe(proxy.requests.filter((q) => q.texts.length > 8).length);
      expect(proxy.requests.flatMap((q) => q.texts)).not.toContain(long.text);
      expect(r.remote.local).toBe(CHECK_SAMPLE + 1);
      await expectLikeLocal(items, r.vectors);
    } finally {
      await proxy.close();
      await small.dispose();
    }
  });
});

describe("a remote that returns wrong vectors is refused, every time, and nothing it sent is kept", () => {
  const cases: Array<[string, Fault, RegExp]> = [
    ["every vector nudged to cosine ≈ 0.9998", { kind: "mangle", vectors: (vs) => nudge(vs, 0.02) }, /vectors_mismatch|does not embed like this build/],
    ["one vector of the batch nudged", { kind: "mangle", vectors: (vs) => nudge(vs, 0.02, 7) }, /does not embed like this build/],
    ["vectors in the wrong order", { kind: "mangle", vectors: (vs) => [...vs.slice(1), vs[0]] }, /does not embed like this build/],
    ["another model's id", { kind: "mangle", vectors: (vs) => vs, model: "use-lite@0.1.0/f32-000000000000" }, /embeds with model "use-lite@0\.1\.0.*this build with/],
  ];
  for (const [name, fault, message] of cases) {
    it(name, async () => {
      // Three different corpora: three different check samples.
      for (const start of [0, 500, 1000]) {
        const honest = await startFaultProxy(workers[0].url);
        const liar = await startFaultProxy(workers[1].url, () => fault);
        try {
          const cache = await tmpCache();
          const err = await embedCorpusRemote(headlines.slice(start, start + 120), EMBEDDING_DIM, cache, pool, embedder([honest, liar]), quietLog, true).catch((e: unknown) => e);
          expect(err, `corpus from ${start}`).toBeInstanceOf(RemoteEmbedError);
          expect((err as Error).message).toMatch(message);
          expect((err as Error).message).toContain(liar.url);
          // The check alone ran: one request to each, no batch went out, the cache holds nothing.
          expect(honest.requests).toHaveLength(1);
          expect(liar.requests).toHaveLength(1);
          expect(await cacheRows(cache)).toBe(0);
        } finally {
          await honest.close();
          await liar.close();
        }
      }
    });
  }
});

describe("429s, 5xx and dropped connections", () => {
  it("retries through them, waits out Retry-After (seconds and dates), and loses or repeats nothing", async () => {
    const faults: Record<number, () => Fault> = {
      2: () => ({ kind: "status", status: 429, retryAfter: "1", body: { error: { code: "rate_limited", message: "too many embed requests" } } }),
      4: () => ({ kind: "status", status: 503 }),
      5: () => ({ kind: "drop" }),
      7: () => ({ kind: "cut" }),
      // An HTTP date has whole seconds: this one is 1–2 s ahead.
      9: () => ({ kind: "status", status: 429, retryAfter: new Date(Date.now() + 2000).toUTCString() }),
      10: () => ({ kind: "status", status: 500 }),
    };
    const proxy = await startFaultProxy(workers[0].url, (i) => faults[i]?.());
    const retries: string[] = [];
    try {
      const items = headlines.slice(1200, 1400);
      const cache = await tmpCache();
      const r = await embedCorpusRemote(items, EMBEDDING_DIM, cache, pool, embedder([proxy], { concurrency: 1, onRetry: (x) => retries.push(x.reason) }), quietLog, true);
      const s = r.remote.stats[0];
      expect(s.rateLimited).toBe(2);
      expect(s.serverErrors).toBe(2);
      expect(s.networkErrors).toBe(2);
      expect(retries).toHaveLength(6);
      expect(retries[0]).toMatch(/HTTP 429 rate_limited/);
      // With one request in flight, the request after a 429 comes no sooner than its Retry-After.
      const gap = (i: number) => proxy.requests[i + 1].at - proxy.requests[i].at;
      expect(gap(2)).toBeGreaterThanOrEqual(950);
      expect(gap(9)).toBeGreaterThanOrEqual(900);
      // Every faulted batch was sent again and served once; nothing served twice.
      const served = proxy.served().slice(CHECK_SAMPLE);
      expect(new Set(served).size).toBe(served.length);
      expect(served.length).toBe(r.remote.embedded);
      expect(r.computed).toBe(new Set(items.map((i) => i.text)).size);
      await expectLikeLocal(items, r.vectors);
      expect(await cacheRows(cache)).toBe(r.computed);
    } finally {
      await proxy.close();
    }
  });

  it("gives up on a remote that stays down, says how to resume, and keeps every batch it got", async () => {
    const proxy = await startFaultProxy(workers[0].url, (i) => (i >= 4 ? { kind: "status", status: 502 } : undefined));
    try {
      const items = headlines.slice(1500, 1700);
      const cache = await tmpCache();
      const err = await embedCorpusRemote(items, EMBEDDING_DIM, cache, pool, embedder([proxy], { concurrency: 1, attempts: 3 }), quietLog, true).catch((e: unknown) => e);
      expect((err as RemoteEmbedError).code).toBe("gave_up");
      expect((err as Error).message).toMatch(/gave up after 3 attempt\(s\).*HTTP 502.*run the build again to resume/);
      // The check's sample and the three batches served before the outage.
      expect(await cacheRows(cache)).toBe(CHECK_SAMPLE + 3 * 16);
      expect((err as Error).message).toContain(`${CHECK_SAMPLE + 3 * 16} of ${new Set(items.map((i) => i.text)).size} distinct texts are embedded in the cache`);
      // The cache holds exactly the texts served.
      const hashes = new Set<string>();
      const buf = await readFile(cache.file);
      for (let o = 0; o < buf.length; o += 32 + EMBEDDING_DIM * 4) hashes.add(buf.toString("hex", o, o + 32));
      expect(hashes).toEqual(new Set(proxy.served().map(textHash)));
    } finally {
      await proxy.close();
    }
  });
});

async function cacheHashes(file: string): Promise<Set<string>> {
  const out = new Set<string>();
  const buf = await readFile(file).catch(() => Buffer.alloc(0));
  const row = 32 + EMBEDDING_DIM * 4;
  expect(buf.length % row).toBe(0);
  for (let o = 0; o < buf.length; o += row) out.add(buf.toString("hex", o, o + 32));
  return out;
}

describe("npm run build -- --embed-url, killed mid-way and run again", () => {
  it("resumes from the cache and re-embeds none of the texts it had", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ess-fleet-build-"));
    tmpDirs.push(dir);
    const rows = await headlineRows(480, 1500 - 480);
    const corpus = path.join(dir, "corpus.csv");
    await writeHeadlinesCsv(corpus, rows);
    const cacheDir = path.join(dir, "cache");
    const cache = new EmbeddingCache(cacheDir, modelId);
    const BATCHES_BEFORE_KILL = 6;
    // Run 1: the proxy serves the check and six batches, then answers nothing more.
    let served = 0;
    const first = await startFaultProxy(workers[0].url, (i) => (i === 0 ? undefined : ++served > BATCHES_BEFORE_KILL ? { kind: "hold" } : undefined));
    const args = (url: string) => ["--corpus", corpus, "--out", path.join(dir, "out"), "--cache", cacheDir, "--embed-url", url, "--embed-batch", "16", "--concurrency", "2", "--check-queries", "50", "--threads", "1", "--json"];
    const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "scripts", "build.ts"), ...args(first.url)], {
      cwd: PROJECT_ROOT,
      // The token from the environment, as the usage says.
      env: { ...process.env, EMBED_TOKEN: TOKEN, NODE_NO_WARNINGS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const want = CHECK_SAMPLE + BATCHES_BEFORE_KILL * 16;
    const deadline = Date.now() + 120_000;
    while ((await cacheRows(cache)) < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Two requests are in flight (held), their texts not yet cached, when the build dies.
    expect(first.requests.filter((q) => q.fault === "hold").length).toBeGreaterThanOrEqual(1);
    child.kill("SIGKILL");
    await exited;
    await first.close();
    const had = await cacheHashes(cache.file);
    expect(had.size, stderr).toBe(want);

    // Run 2: same command, token by flag this time.
    const second = await startFaultProxy(workers[1].url);
    try {
      const run = await runCli("build", [...args(second.url), "--embed-token", TOKEN], 170_000);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { items: number; embeddings: { source: string; computed: number; cached: number; remote: { embedded: number; local: number } } };
      const distinct = new Set(rows.map((r) => r.text));
      expect(report.embeddings.source).toBe("remote");
      expect(report.embeddings.cached).toBe(rows.filter((r) => had.has(textHash(r.text))).length);
      expect(report.embeddings.computed).toBe(distinct.size - had.size);
      // Nothing the cache held went out again: 0 re-embedded.
      const sent = second.requests.flatMap((q) => q.texts);
      expect(sent.filter((t) => had.has(textHash(t)))).toEqual([]);
      expect(new Set(sent).size).toBe(distinct.size - had.size);
      expect(report.embeddings.remote.embedded + report.embeddings.remote.local).toBe(distinct.size - had.size);
      // The cache now holds every text once, with the self-check's query proxies (embedded here),
      // and the build's vectors are the local model's.
      const after = await cacheHashes(cache.file);
      const proxies = proxyQueries(rows.map((r) => r.text), 50).flatMap((p) => (p.text === undefined || distinct.has(p.text) ? [] : [p.text]));
      const expected = new Set([...distinct, ...proxies].map(textHash));
      expect(after).toEqual(expected);
      expect((await stat(cache.file)).size).toBe(expected.size * (32 + EMBEDDING_DIM * 4));
      const vectors = new Float32Array((await readFile(path.join(dir, "out", "vectors.f32"))).buffer.slice(0));
      await expectLikeLocal(rows.map((r, i) => ({ id: String(i), text: r.text, meta: {} })), vectors);
    } finally {
      await second.close();
    }
  });

  it("refuses flags that cannot work, with the usage's exit code", async () => {
    const bad = async (args: string[], message: RegExp) => {
      const r = await runCli("build", ["--corpus", HEADLINES_CSV, ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    };
    await bad(["--concurrency", "4"], /--concurrency goes with --embed-url/);
    await bad(["--embed-url", "ftp://x"], /must be http\(s\)/);
    await bad(["--embed-url", "http://127.0.0.1:9", "--vectors", "x.f32"], /exclude each other/);
    await bad(["--embed-url", "http://127.0.0.1:9", "--concurrency", "0"], /--concurrency must be an integer ≥ 1/);
  });
});

describe("a Worker that says it is misconfigured", () => {
  it("is refused at once: a 503 misconfigured is not retried", async () => {
    const proxy = await startFaultProxy(workers[0].url, () => ({ kind: "status", status: 503, body: { error: { code: "misconfigured", message: "the service is misconfigured; the operator has been told" } } }));
    try {
      const err = await embedCorpusRemote(headlines.slice(0, 40), EMBEDDING_DIM, await tmpCache(), pool, embedder([proxy]), quietLog, true).catch((e: unknown) => e);
      expect((err as RemoteEmbedError).code).toBe("refused");
      expect((err as Error).message).toMatch(/HTTP 503 misconfigured/);
      expect(proxy.requests).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});

describe("Retry-After", () => {
  it("reads seconds and HTTP dates; absent or unreadable is 0", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("10", now)).toBe(10_000);
    expect(retryAfterMs(" 0 ", now)).toBe(0);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(retryAfterMs("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
    expect(retryAfterMs(null, now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBe(0);
  });
});
