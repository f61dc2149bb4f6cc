// Issue 24's deploy findings: the effective wrangler configuration decides a
// redeploy; a KV lock serializes deploys, rollbacks and GC; GC re-reads the
// pointer and registry before deleting; rollback verifies hashes; the pointer
// names its manifest's hash; and two deploys started at once against one local
// store leave every live value in place.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePointer, manifestKeyFor, POINTER_KEY, type Manifest } from "../lib/index/manifest.ts";
import { sha256Hex } from "../lib/index/sha256.ts";
import { main as deployMain } from "../scripts/commands/deploy.ts";
import { configHash, deployedWorkerHash } from "../scripts/deploy/config-hash.ts";
import { acquireLock, LockError, LOCK_KEY } from "../scripts/deploy/lock.ts";
import { collectGarbage, emptyRegistry, entryFor, getTexts, missingValues, readPointer, readRegistry, referencedKeys, writeRegistry, REGISTRY_KEY } from "../scripts/deploy/registry.ts";
import { rollback, RollbackError } from "../scripts/deploy/rollback.ts";
import { bindingWriter, type KvWriter } from "../scripts/deploy/publish.ts";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";
import { headlines, writeHeadlinesCsv } from "./helpers/build-fixtures.ts";
import { startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";

/** A strongly consistent in-memory store. */
function memoryKv(): KvWriter & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    async listKeys(prefix) {
      return new Set([...data.keys()].filter((k) => k.startsWith(prefix)));
    },
    async putMany(entries) {
      for (const e of entries) data.set(e.key, typeof e.value === "string" ? e.value : Buffer.from(e.value).toString("utf8"));
    },
    async get(key) {
      return data.get(key) ?? null;
    },
    async put(key, value) {
      data.set(key, value);
    },
    async delete(keys) {
      for (const k of keys) data.delete(k);
    },
  };
}

describe("the redeploy decision", () => {
  let dir: string;
  beforeAll(async () => {
    // Beside wrangler.toml, so `main` resolves as it does for the real file.
    dir = await mkdtemp(path.join(PROJECT_ROOT, ".cache", "test-config-hash-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("a config-only change (one var) changes what the deploy compares; a comment does not", async () => {
    await mkdir(dir, { recursive: true });
    const toml = await readFile(path.join(PROJECT_ROOT, "wrangler.toml"), "utf8");
    const files = { same: path.join(dir, "a.toml"), comment: path.join(dir, "b.toml"), origins: path.join(dir, "c.toml"), limit: path.join(dir, "d.toml") };
    await copyFile(path.join(PROJECT_ROOT, "wrangler.toml"), files.same);
    await writeFile(files.comment, `# a comment\n${toml}`);
    await writeFile(files.origins, toml.replace('ALLOWED_ORIGINS = "*"', 'ALLOWED_ORIGINS = "https://app.example"'));
    await writeFile(files.limit, toml.replace("simple = { limit = 100, period = 10 }", "simple = { limit = 50, period = 10 }"));
    const bundle = "0".repeat(64);
    const h = (f: string) => deployedWorkerHash(bundle, configHash(f));
    expect(h(files.comment)).toBe(h(files.same));
    expect(h(files.origins)).not.toBe(h(files.same));
    expect(h(files.limit)).not.toBe(h(files.same));
  });
});

describe("the deploy lock", () => {
  it("a second holder waits or is refused; an expired lock is taken over; release frees it", async () => {
    const kv = memoryKv();
    const first = await acquireLock(kv, "deploy", { settleMs: 1 });
    await expect(acquireLock(kv, "rollback", { settleMs: 1 })).rejects.toThrow(LockError);
    let second: Awaited<ReturnType<typeof acquireLock>> | undefined;
    const waiting = acquireLock(kv, "deploy", { waitMs: 5000, pollMs: 20, settleMs: 1 }).then((l) => (second = l));
    await new Promise((r) => setTimeout(r, 100));
    expect(second).toBeUndefined();
    await first.release();
    await waiting;
    expect(JSON.parse(kv.data.get(LOCK_KEY)!).owner).toBe(second!.value.owner);
    await expect(first.check()).rejects.toThrow(/lost the deploy lock/);
    await second!.release();
    expect(kv.data.has(LOCK_KEY)).toBe(false);
    // A crashed owner's lock expires.
    kv.data.set(LOCK_KEY, JSON.stringify({ owner: "crashed", op: "deploy", acquiredAt: "2020-01-01T00:00:00Z", expiresAt: "2020-01-01T01:00:00Z" }));
    const third = await acquireLock(kv, "gc", { settleMs: 1 });
    expect(third.value.op).toBe("gc");
  });
});

describe("garbage collection", () => {
  const model = (n: number) => ({ id: `m${n}`, dim: 512, topology: { key: `blob/${n}a`, sha256: "x", bytes: 1 }, weights: { key: `blob/${n}b`, sha256: "x", bytes: 1 }, vocab: { key: `blob/${n}c`, sha256: "x", bytes: 1 } });
  const manifest = (v: string, n: number) => ({ version: v, model: model(n), items: 0, createdAt: new Date().toISOString() }) as unknown as Manifest;

  it("re-reads the pointer just before deleting and aborts when it is not its own; keeps what another writer registered meanwhile", async () => {
    const kv = memoryKv();
    for (const [v, n] of [["v1", 1], ["v2", 2], ["v3", 3]] as const) {
      const m = manifest(v, n);
      kv.data.set(manifestKeyFor(v), JSON.stringify(m));
      for (const r of [m.model.topology, m.model.weights, m.model.vocab]) kv.data.set(r.key, "model part");
    }
    const registry = emptyRegistry();
    registry.versions.push(entryFor(manifest("v1", 1), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), entryFor(manifest("v2", 2), "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"));
    await writeRegistry(kv, registry);
    await kv.put(POINTER_KEY, encodePointer("v2", "2026-01-02T00:00:00Z"));
    // Another deploy registers v3 and switches to it while this GC (which read the registry earlier) runs.
    const stale = await readRegistry(kv);
    const concurrent = await readRegistry(kv);
    concurrent.versions.push(entryFor(manifest("v3", 3), "2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z"));
    await expect(
      collectGarbage(kv, "v2", 1, stale, {
        beforeDelete: async () => {
          await writeRegistry(kv, concurrent);
          await kv.put(POINTER_KEY, encodePointer("v3", "2026-01-03T00:00:00Z"));
        },
      }),
    ).rejects.toThrow(/pointer now names v3/);
    expect(kv.data.has("blob/3a")).toBe(true);
    expect(kv.data.has("blob/1a")).toBe(true);
    // With the pointer its own, v3 (registered meanwhile, never in its copy) still stays.
    await kv.put(POINTER_KEY, encodePointer("v2", "2026-01-04T00:00:00Z"));
    // Its stale copy alone would delete v3's values (unreferenced there); only keys both plans drop go.
    const gc = await collectGarbage(kv, "v2", 1, stale);
    expect(gc.delete).toEqual([]);
    expect(gc.droppedVersions).toEqual(["v1"]);
    expect(kv.data.has("blob/3a")).toBe(true);
    // The next GC, whose registry already lacks v1, deletes v1's values.
    const next = await collectGarbage(kv, "v2", 1);
    expect(next.delete).toEqual(["blob/1a", "blob/1b", "blob/1c", "manifest/v1"]);
    expect(JSON.parse(kv.data.get(REGISTRY_KEY)!).versions.map((v: { version: string }) => v.version).sort()).toEqual(["v2", "v3"]);
  });
});

describe("two deploys at once against one local store", { timeout: 600_000 }, () => {
  let worker: TestWorker;
  let kv: KvWriter;
  let tmp: string;
  const CACHE = path.join(PROJECT_ROOT, ".cache", "test-deploy-embeddings");
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "ess-deploy-race-"));
    worker = await startTestWorker({ vars: { POINTER_TTL_MS: "0" } });
    kv = bindingWriter(worker.kv as unknown as Parameters<typeof bindingWriter>[0]);
  });
  afterAll(async () => {
    await worker?.dispose();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function deploy(corpus: string, out: string) {
    const err: string[] = [];
    const log: string[] = [];
    const code = await deployMain(["--local", "--corpus", corpus, "--out", out, "--cache", CACHE, "--quiet", "--check-queries", "60", "--keep", "1", "--lock-wait", "600"], {
      kv,
      out: (s) => log.push(s),
      err: (s) => err.push(s),
    });
    return { code, err: err.join("\n"), log: log.join("\n") };
  }

  it("neither deletes the other's live values; the pointer names its manifest's hash; rollback refuses a version whose values fail their hash", async () => {
    const rows = await headlines(1000);
    const a = path.join(tmp, "a.csv");
    const b = path.join(tmp, "b.csv");
    await writeHeadlinesCsv(a, rows.slice(0, 500));
    await writeHeadlinesCsv(b, rows.slice(500));
    const [ra, rb] = await Promise.all([deploy(a, path.join(tmp, "out-a")), deploy(b, path.join(tmp, "out-b"))]);
    expect(ra.code, ra.err).toBe(0);
    expect(rb.code, rb.err).toBe(0);
    // One of them waited for the other's lock.
    expect(`${ra.log}\n${rb.log}`).toMatch(/waiting for the deploy lock/);
    const pointer = (await readPointer(kv))!;
    const registry = await readRegistry(kv);
    expect(registry.versions).toHaveLength(2);
    for (const v of registry.versions) {
      const m = JSON.parse((await kv.get(v.manifestKey))!) as Manifest;
      expect(await missingValues(kv, m), v.version).toEqual([]);
    }
    const manifestText = (await kv.get(pointer.manifestKey))!;
    expect(pointer.manifestSha256).toBe(await sha256Hex(manifestText));
    const live = await worker.json("/search?q=drought&k=3");
    expect(live.status, JSON.stringify(live.body).slice(0, 200)).toBe(200);
    expect(live.body.index.version).toBe(pointer.version);

    // Corrupt one item record only the other version holds: rollback must refuse it.
    const other = registry.versions.find((v) => v.version !== pointer.version)!;
    const otherManifest = JSON.parse((await kv.get(other.manifestKey))!) as Manifest;
    const read = (keys: string[]) => getTexts(kv, keys);
    const liveKeys = await referencedKeys(JSON.parse(manifestText) as Manifest, read);
    const victim = [...(await referencedKeys(otherManifest, read))].find((k) => k.startsWith("item/") && !liveKeys.has(k))!;
    const value = (await kv.get(victim))!;
    await kv.put(victim, value.slice(0, -1) + (value.endsWith("x") ? "y" : "x"));
    const rolled = rollback(kv, other.version, () => undefined, { local: true });
    await expect(rolled).rejects.toThrow(RollbackError);
    await expect(rolled).rejects.toThrow(/fail their hash/);
  });
});
