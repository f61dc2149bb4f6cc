// Deploys against local KV served by the Worker in workerd: incremental uploads,
// dry run, recall gate, rollback, GC, and a client loop that must only ever see
// complete answers of one version or the other while the pointer moves.
// One shared story (each step depends on the previous), on the committed 2,000-headline slice (1,900, then all 2,000).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestKeyFor, POINTER_KEY, type Manifest } from "../lib/index/manifest.ts";
import { main as deployMain } from "../scripts/commands/deploy.ts";
import { recallGate, type DeployResult } from "../scripts/deploy/deploy.ts";
import { collectGarbage, readPointer, readRegistry, REGISTRY_KEY } from "../scripts/deploy/registry.ts";
import { bindingWriter, type KvWriter } from "../scripts/deploy/publish.ts";
import { main as rollbackMain } from "../scripts/commands/rollback.ts";
import { main as versionsMain } from "../scripts/commands/versions.ts";
import { headlines, writeHeadlinesCsv } from "./helpers/build-fixtures.ts";
import { startTestWorker, type TestWorker } from "./helpers/workerd-fixture.ts";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";
import { tokenize } from "../lib/lexical/tokenize.ts";

const BASE_LINES = 1900;
const ADDED_LINES = 100;
// One embedding cache for every run of this file: after the first run no build embeds anything.
const CACHE = path.join(PROJECT_ROOT, ".cache", "test-deploy-embeddings");
const QUERIES = ["iraq war protest", "drought hits farmers", "police investigate murder", "football coach sacked", "bushfire threatens homes", "interest rates rise"];

type Answer = { id: string; score: number; text: string; meta: unknown }[];

let worker: TestWorker;
let kv: KvWriter;
let tmp: string;
let corpusA: string;
let corpusB: string;
let artifacts: string;

async function deploy(corpus: string, extra: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  let result: DeployResult | undefined;
  const code = await deployMain(["--local", "--corpus", corpus, "--out", artifacts, "--cache", CACHE, "--quiet", "--check-queries", "120", ...extra], {
    kv,
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    onResult: (r) => (result = r),
  });
  return { code, out: out.join("\n"), err: err.join("\n"), result };
}

async function ask(q: string): Promise<{ status: number; version?: string; results?: Answer; body: unknown }> {
  // Semantic mode: which version answers shows in the vector results alone (hybrid's BM25 moves with every added line's df).
  const res = await worker.json(`/v1/search?q=${encodeURIComponent(q)}&k=10&mode=semantic`);
  return { status: res.status, version: res.body?.index?.version, results: res.body?.results, body: res.body };
}

async function answers(): Promise<{ version: string; byQuery: Map<string, Answer> }> {
  const byQuery = new Map<string, Answer>();
  let version = "";
  for (const q of QUERIES) {
    const a = await ask(q);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    version ||= a.version!;
    expect(a.version).toBe(version);
    byQuery.set(q, a.results!);
  }
  return { version, byQuery };
}

/** Queries in a loop (two clients) until stopped; records every answer. */
function clientLoop() {
  let stop = false;
  const seen: Array<{ q: string; version: string; results: Answer }> = [];
  const errors: string[] = [];
  const client = async (offset: number) => {
    for (let i = offset; !stop; i++) {
      const q = QUERIES[i % QUERIES.length];
      try {
        const a = await ask(q);
        if (a.status !== 200) errors.push(`${a.status} ${JSON.stringify(a.body)}`);
        else seen.push({ q, version: a.version!, results: a.results! });
      } catch (e) {
        errors.push(String(e));
      }
    }
  };
  const running = Promise.all([client(0), client(3)]);
  return {
    seen,
    async stopAfter(version: string, atLeast = 4) {
      // Keep asking until the new version has answered a few times (TTL 0: the next request sees it).
      const t0 = Date.now();
      while (seen.filter((s) => s.version === version).length < atLeast && Date.now() - t0 < 30_000 && errors.length === 0) await new Promise((r) => setTimeout(r, 50));
      stop = true;
      await running;
      return { seen, errors };
    },
  };
}

function expectOnly(seen: Array<{ q: string; version: string; results: Answer }>, expected: Array<{ version: string; byQuery: Map<string, Answer> }>) {
  const byVersion = new Map(expected.map((e) => [e.version, e.byQuery]));
  for (const s of seen) {
    expect([...byVersion.keys()]).toContain(s.version);
    expect(s.results).toEqual(byVersion.get(s.version)!.get(s.q));
  }
  for (const e of expected) expect(seen.some((s) => s.version === e.version), `no answer from ${e.version}`).toBe(true);
}

async function allKeys(): Promise<Map<string, string | null>> {
  const keys = [...(await kv.listKeys(""))].sort();
  const small = keys.filter((k) => !k.startsWith("blob/") && !k.startsWith("item/"));
  const out = new Map<string, string | null>(keys.map((k) => [k, null]));
  for (const k of small) out.set(k, await kv.get(k));
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "ess-deploy-test-"));
  const rows = await headlines(BASE_LINES + ADDED_LINES);
  corpusA = path.join(tmp, "a.csv");
  corpusB = path.join(tmp, "b.csv");
  await writeHeadlinesCsv(corpusA, rows.slice(0, BASE_LINES));
  await writeHeadlinesCsv(corpusB, rows);
  artifacts = path.join(tmp, "artifacts");
  worker = await startTestWorker({ vars: { POINTER_TTL_MS: "0" } });
  kv = bindingWriter(worker.kv as unknown as Parameters<typeof bindingWriter>[0]);
});

afterAll(async () => {
  await worker?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("deploy to local KV", { timeout: 400_000 }, () => {
  let v1: { version: string; byQuery: Map<string, Answer> };
  let v2: { version: string; byQuery: Map<string, Answer> };
  let dryPlan: DeployResult | undefined;
  let deployB: DeployResult | undefined;

  it("first deploy uploads everything and switches; a second deploy of the same corpus uploads nothing", async () => {
    const first = await deploy(corpusA);
    expect(first.code, first.err).toBe(0);
    expect(first.result!.status).toBe("deployed");
    expect(first.result!.uploadByKind).toMatchObject({ items: BASE_LINES, model: 3, routing: 1, catalog: 1 });
    v1 = await answers();
    expect(v1.version).toBe(first.result!.version);

    const second = await deploy(corpusA);
    expect(second.code, second.err).toBe(0);
    expect(second.result!.status).toBe("unchanged");
    expect(second.result!.version).toBe(first.result!.version);
    expect(second.result!.plan.upload).toHaveLength(0);
    expect(second.result!.plan.uploadBytes).toBe(0);
    expect(second.out).toMatch(/uploaded 0 values \(0 B\)/);
    expect((await readPointer(kv))!.version).toBe(v1.version);
  });

  it("--dry-run prints the plan and writes nothing", async () => {
    const before = await allKeys();
    const dry = await deploy(corpusB, ["--dry-run"]);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.result!.status).toBe("dry-run");
    expect(dry.out).toMatch(/plan: upload \d+ values/);
    expect(dry.out).toMatch(/dry run: nothing written/);
    expect(await allKeys()).toEqual(before);
    dryPlan = dry.result;
  });

  it("adding 100 lines uploads only the new items and the changed shards, while clients see one version or the other", async () => {
    const loop = clientLoop();
    const b = await deploy(corpusB);
    const { seen, errors } = await loop.stopAfter(b.result!.version);
    expect(b.code, b.err).toBe(0);
    deployB = b.result!;
    expect(errors).toEqual([]);

    const up = deployB.uploadByKind;
    expect(up.items).toBe(ADDED_LINES);
    expect(up.model).toBe(0);
    expect(up.routing).toBe(1); // leaf sizes changed
    expect(up.catalog).toBe(1);
    expect(up.shards).toBe(deployB.changedShards);
    expect(up.shards).toBeGreaterThan(0);
    expect(up.shards).toBeLessThan(deployB.shards);
    // Filter values: the table, the attributes of the changed leaves, and the date chunks the new items fall in.
    expect(up.filters).toBeGreaterThanOrEqual(1 + deployB.changedShards);
    // Resident blocks are cut in corpus order where a key says so: appended lines rewrite the last block (or split it), no other.
    const residentA = JSON.parse((await kv.get(manifestKeyFor(v1.version)))!) as Manifest;
    const residentB = JSON.parse((await kv.get(manifestKeyFor(deployB.version)))!) as Manifest;
    const blocksA = residentA.resident!.blocks.map((r) => r.key);
    const blocksB = residentB.resident!.blocks.map((r) => r.key);
    expect(blocksB.slice(0, blocksA.length - 1)).toEqual(blocksA.slice(0, -1));
    expect(up.resident).toBe(blocksB.length - blocksA.length + 1);
    expect(deployB.residentBlocks).toBe(blocksB.length);
    // Lexical values: the live version's lexicon is kept as it is, and one delta value holds the new lines' postings
    // (format.ts §12): a 5% change rewrites 1 lexical value, ≤ 3% of them.
    const added = await headlines(ADDED_LINES, BASE_LINES);
    expect(residentB.lexical!.head).toEqual(residentA.lexical!.head);
    expect(residentB.lexical!.delta).toMatchObject({ items: ADDED_LINES, removed: 0, terms: new Set(added.flatMap((r) => tokenize(r.text))).size });
    expect(up.lexical).toBe(residentB.lexical!.delta!.parts.length);
    expect(up.lexical).toBe(1);
    expect(up.lexical / deployB.lexicalValues).toBeLessThanOrEqual(0.03);
    expect(deployB.plan.upload).toHaveLength(ADDED_LINES + deployB.changedShards + 2 + up.filters + up.resident + up.lexical);
    expect(deployB.plan.skip.length).toBe(
      BASE_LINES + 3 + (deployB.shards - deployB.changedShards) + (deployB.filterValues - up.filters) + (deployB.residentBlocks - up.resident) + (deployB.lexicalValues - up.lexical),
    );
    // The dry run planned exactly this.
    expect(dryPlan!.version).toBe(deployB.version);
    expect(dryPlan!.plan.upload.map((u) => u.key).sort()).toEqual(deployB.plan.upload.map((u) => u.key).sort());
    console.log(
      `100-line change: uploaded ${deployB.plan.upload.length} values (${deployB.plan.uploadBytes} B: ${up.items} items, ${up.shards}/${deployB.shards} shards, ${up.filters}/${deployB.filterValues} filter values, ${up.lexical}/${deployB.lexicalValues} lexical values, routing, catalog), ` +
        `skipped ${deployB.plan.skip.length} values (${deployB.plan.skipBytes} B); pointer switch ${deployB.switchMs!.toFixed(1)} ms; ${seen.length} answers during the deploy`,
    );

    v2 = await answers();
    expect(v2.version).toBe(deployB.version);
    // The Worker reads the delta: each added line, searched by its words in lexical mode, is in the top 3.
    for (const row of added.slice(0, 5)) {
      const res = await worker.json(`/v1/search?q=${encodeURIComponent(row.text)}&k=3&mode=lexical`);
      expect(res.status).toBe(200);
      expect((res.body as { results: Array<{ text: string }> }).results.map((r) => r.text), row.text).toContain(row.text);
    }
    expectOnly(seen, [v1, v2]);
  });

  it("rollback is one pointer write back; clients see one version or the other; old answers return", async () => {
    const loop = clientLoop();
    await new Promise((r) => setTimeout(r, 300));
    const out: string[] = [];
    const code = await rollbackMain([], { kv, out: (s) => out.push(s), err: (s) => out.push(s) });
    const { seen, errors } = await loop.stopAfter(v1.version);
    expect(code, out.join("\n")).toBe(0);
    expect(out.join("\n")).toMatch(new RegExp(`rolled back ${v2.version} → ${v1.version}`));
    expect(errors).toEqual([]);
    expectOnly(seen, [v1, v2]);
    const after = await answers();
    expect(after.version).toBe(v1.version);
    expect(after.byQuery).toEqual(v1.byQuery);

    const list: string[] = [];
    expect(await versionsMain([], { kv, out: (s) => list.push(s) })).toBe(0);
    const text = list.join("\n");
    expect(text).toMatch(new RegExp(`\\*\\s+${v1.version}.*\\s${BASE_LINES}\\s+0\\.9\\d\\d`));
    expect(text).toMatch(new RegExp(`\\s${v2.version}.*\\s${BASE_LINES + ADDED_LINES}\\s+0\\.9\\d\\d`));
  });

  it("the recall gate refuses a build that ruins recall, and switches nothing", async () => {
    const before = (await kv.get(POINTER_KEY))!;
    const bad = await deploy(corpusB, ["--nprobe", "1"]);
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/refusing to switch: the build's recall@10 self-check is 0\.\d+, under the threshold 0\.95/);
    expect(bad.result!.status).toBe("refused");
    expect(bad.result!.gate.recallAt10).toBeLessThan(0.95);
    expect(await kv.get(POINTER_KEY)).toBe(before);
    expect((await answers()).byQuery).toEqual(v1.byQuery);
  });

  it("garbage collection deletes exactly the values only a dropped version used", async () => {
    const registry = await readRegistry(kv);
    expect(registry.versions.map((v) => v.version).sort()).toEqual([v1.version, v2.version].sort());
    const gc = await collectGarbage(kv, v1.version, 0);
    expect(gc.droppedVersions).toEqual([v2.version]);
    // v2's own values: its 100 items, changed shards, routing, catalog, filter values, resident blocks, lexical values, and its manifest.
    expect(gc.delete).toHaveLength(ADDED_LINES + deployB!.changedShards + 2 + deployB!.uploadByKind.filters + deployB!.uploadByKind.resident + deployB!.uploadByKind.lexical + 1);
    expect(gc.delete).toContain(`manifest/${v2.version}`);
    expect((await readRegistry(kv)).versions.map((v) => v.version)).toEqual([v1.version]);
    expect(await kv.get(REGISTRY_KEY)).not.toBeNull();
    expect((await answers()).byQuery).toEqual(v1.byQuery);
    const out: string[] = [];
    expect(await rollbackMain(["--to", v2.version], { kv, out: (s) => out.push(s), err: (s) => out.push(s) })).toBe(2);
    expect(out.join("\n")).toMatch(/is not kept/);
  });
});

describe("recall gate", () => {
  it("checks recall and the item-count drop", () => {
    const m = (items: number, recallAt10: number) => ({ items, selfCheck: { recallAt10 } as never });
    expect(recallGate(m(1000, 0.96), null).ok).toBe(true);
    expect(recallGate(m(1000, 0.94), null).reasons[0]).toMatch(/recall@10 self-check is 0\.940, under the threshold 0\.95/);
    expect(recallGate(m(1000, 0.94), null, { minRecall: 0.9 }).ok).toBe(true);
    expect(recallGate(m(850, 0.97), { items: 1000 }).reasons[0]).toMatch(/item count dropped from 1000 to 850/);
    expect(recallGate(m(850, 0.97), { items: 1000 }, { maxItemDrop: 0.2 }).ok).toBe(true);
    expect(recallGate(m(5, 0.97), { items: 0 }).ok).toBe(true); // a model-only version has no items to lose
  });
});
