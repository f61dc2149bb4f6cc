// Worker fixtures for Node-side tests: a workerd instance with its own temporary
// KV store, optionally seeded with the real float16 model and a manifest, or with
// a copy of the real index the global setup built and published.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, inject } from "vitest";
import { startLocalWorker, type LocalWorker, type StartOptions } from "../../scripts/local/harness.ts";
import { publishManifest, putModel } from "../../scripts/local/seed.ts";
import { createNodeEmbedder, prepareModel } from "../../scripts/builder/embedding/node-model.ts";
import { ArtifactSearch } from "../../scripts/artifacts/node-search.ts";
import type { Embedder } from "../../lib/model/embed.ts";
import type { Manifest, ModelRef } from "../../lib/index/manifest.ts";
import { copyKvTemplate } from "./index-fixture.ts";
import { validating } from "./openapi.ts";

export interface TestWorker extends LocalWorker {
  persistDir: string;
  /** Set when seeded with the model (or the index, which names one). */
  model?: ModelRef;
  /** Set when seeded with the index fixture. */
  manifest?: Manifest;
  json(pathOrUrl: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any }>;
}

export interface TestWorkerOptions {
  vars?: Record<string, string>;
  seedModel?: boolean;
  /** Start on a private copy of the published index fixture (model included). */
  index?: boolean;
  version?: string;
  manifestExtra?: Record<string, unknown>;
  /** Rewires the Miniflare options (e.g. scripts/local/faulty-kv.ts). */
  rewire?: StartOptions["rewire"];
  onLog?: StartOptions["onLog"];
  ratelimits?: StartOptions["ratelimits"];
}

export async function startTestWorker(opts: TestWorkerOptions = {}): Promise<TestWorker> {
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-test-"));
  let manifest: Manifest | undefined;
  if (opts.index) {
    const fixture = inject("indexFixture");
    await copyKvTemplate(fixture, persistDir);
    manifest = JSON.parse(await readFile(path.join(fixture.dir, "manifest.json"), "utf8")) as Manifest;
  }
  // Every response a test receives is checked against the OpenAPI document (helpers/openapi.ts).
  const worker = validating(await startLocalWorker({ persistDir, vars: opts.vars, bundle: inject("workerBundle"), rewire: opts.rewire, onLog: opts.onLog, ratelimits: opts.ratelimits }));
  let model: ModelRef | undefined = manifest?.model;
  if (opts.seedModel) {
    model = await putModel(worker.kv, await prepareModel());
    await publishManifest(worker.kv, { version: opts.version ?? "v1", model, items: 0, ...(opts.manifestExtra ?? {}) });
  }
  return {
    ...worker,
    persistDir,
    model,
    manifest,
    async json(p, init) {
      const res = await worker.fetch(p, init);
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, headers: res.headers, body };
    },
    async dispose() {
      await worker.dispose();
      await rm(persistDir, { recursive: true, force: true });
    },
  };
}

/**
 * One Worker for the enclosing suite: started before its tests (beforeAll),
 * disposed of after them (afterAll). The handle stands for it inside the tests;
 * touched before the suite starts, it throws.
 */
export function suiteWorker(opts: TestWorkerOptions = {}): TestWorker {
  let worker: TestWorker | undefined;
  beforeAll(async () => {
    worker = await startTestWorker(opts);
  });
  afterAll(async () => worker?.dispose());
  return new Proxy({} as TestWorker, {
    get(_target, key) {
      if (!worker) throw new Error(`the suite's Worker is not started: use it inside a test or hook, not while collecting (reading ${String(key)})`);
      const value: unknown = Reflect.get(worker, key);
      return typeof value === "function" ? value.bind(worker) : value;
    },
  });
}

/** What a suite needs to hold the Worker's answers to the Node side's on the real index. */
export interface RealIndexSuite {
  /** A Worker serving a private copy of the published index fixture. */
  w: TestWorker;
  /** The Node search over the fixture's artifacts. */
  engine: ArtifactSearch;
  /** The Node embedder (the build's). */
  embedder: Embedder;
}

/** The three of RealIndexSuite, started together before the enclosing suite's tests; the Worker disposed of after them. */
export function suiteRealIndex(): RealIndexSuite {
  const suite = {} as RealIndexSuite;
  beforeAll(async () => {
    [suite.w, suite.engine, suite.embedder] = await Promise.all([startTestWorker({ index: true }), ArtifactSearch.open(inject("indexFixture").dir), createNodeEmbedder()]);
  });
  afterAll(async () => suite.w?.dispose());
  return suite;
}

export function post(body: unknown): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) };
}

export interface Hit {
  id: string;
  score: number;
  text: string;
  meta: Record<string, unknown>;
}

/** Worker and Node hits agree up to float noise: same ids in the same order, except swaps of near-equal scores. */
export function expectSameHits(worker: Hit[], node: Hit[], label: string, eps = 1e-3): void {
  expect(worker.length, label).toBe(node.length);
  for (let i = 0; i < node.length; i++) {
    expect(Math.abs(worker[i].score - node[i].score), `${label} rank ${i} score`).toBeLessThanOrEqual(eps);
    if (worker[i].id === node[i].id) continue;
    // A different id is only acceptable where Node itself has a near-tie at this rank.
    // Either Node ranks the same item nearby with a near-equal score, or it is a
    // boundary item whose score near-ties Node's last hit.
    const j = node.findIndex((h) => h.id === worker[i].id);
    const tie = j >= 0 ? Math.abs(node[j].score - node[i].score) <= eps : Math.abs(worker[i].score - node[node.length - 1].score) <= eps;
    expect(tie, `${label} rank ${i}: worker ${worker[i].id} vs node ${node[i].id}`).toBe(true);
  }
}
