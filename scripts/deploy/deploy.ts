// One deploy: build (extending the live version, embeddings from the cache) →
// recall gate → upload what KV lacks → manifest → Worker code if it changed →
// registry → pointer (the switch) → garbage collection of versions no longer kept.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { POINTER_KEY, encodePointer, type Manifest, type Pointer } from "../../lib/index/manifest.ts";
import { readRouting, shardRefs, type VersionValues } from "../../lib/index/version.ts";
import { artifactVersionValues, blobReader, readManifest } from "../artifacts/dir.ts";
import { readBase, reportLines, runBuild, type BuildOptions, type BuildReport } from "../builder/build.ts";
import { prepareModel } from "../builder/embedding/node-model.ts";
import type { BaseIndex } from "../builder/build-index.ts";
import { bundleWorker, WRANGLER_ENV, wranglerBin } from "../local/harness.ts";
import { Progress } from "../common/progress.ts";
import { planPublish, publish, type KvWriter, type PublishPlan } from "./publish.ts";
import {
  WORKER_BUNDLE_KEY,
  entryFor,
  getTexts,
  collectGarbage,
  mergeRegistries,
  planGc,
  readManifestAt,
  readPointer,
  readRegistry,
  upsert,
  writeRegistry,
  type GcPlan,
  type Registry,
} from "./registry.ts";
import { tomlNamespaceId } from "./target.ts";
import { withLock, type HeldLock } from "./lock.ts";
import { configHash, deployedWorkerHash } from "./config-hash.ts";
import { DEFAULT_OUT, PROJECT_ROOT } from "../common/paths.ts";

export const DEFAULTS = { minRecall: 0.95, maxItemDrop: 0.1, keep: 3 };

export type BuildParams = Pick<BuildOptions, "textColumn" | "threads" | "leafSize" | "pqM" | "rerank" | "rerankMargin" | "nprobe" | "probeMargin" | "targetRecall" | "checkQueries" | "maxGrowth">;

export interface DeployOptions {
  corpus: string;
  /** How long to wait for another deploy, rollback or GC holding the KV lock (default 0: refuse at once). */
  lockWaitMs?: number;
  out?: string;
  cacheDir?: string | null;
  build?: BuildParams;
  /** Extend the live version so unchanged shards keep their keys (default true). */
  extend?: boolean;
  dryRun?: boolean;
  force?: boolean;
  minRecall?: number;
  /** Refuse when items drop by more than this fraction of the live version's. */
  maxItemDrop?: number;
  /** Previous versions kept besides the live one (≥ 1: edges may read the old pointer for a minute). */
  keep?: number;
  /** Local KV: never runs `wrangler deploy`. */
  local: boolean;
  /** Remote: deploy the Worker code when its bundle changed (default true). */
  deployWorker?: boolean;
  /** Remote: the namespace being written, checked against wrangler.toml before `wrangler deploy`. */
  namespaceId?: string;
  quietBuild?: boolean;
}

export interface GateResult {
  ok: boolean;
  recallAt10: number;
  minRecall: number;
  items: number;
  liveItems: number | null;
  maxItemDrop: number;
  reasons: string[];
}

export interface UploadBreakdown {
  model: number;
  routing: number;
  catalog: number;
  shards: number;
  /** Filter table parts, leaf attributes and column chunks. */
  filters: number;
  /** Resident blocks (format.ts, section 8). */
  resident: number;
  /** Lexicon head parts, lexicon parts and postings tails (format.ts, sections 9–11). */
  lexical: number;
  items: number;
}

export interface DeployResult {
  status: "deployed" | "unchanged" | "dry-run" | "refused";
  version: string;
  previous: string | null;
  gate: GateResult;
  plan: PublishPlan;
  uploadByKind: UploadBreakdown;
  /** Leaves whose shard differs from the live version's. */
  changedShards: number;
  shards: number;
  /** Filter values of this version (table parts, leaf attributes, column chunks). */
  filterValues: number;
  /** Resident blocks of this version (0 when its build wrote none). */
  residentBlocks: number;
  /** Lexical values of this version (0 without a lexical index). */
  lexicalValues: number;
  switchMs: number | null;
  gc: GcPlan | null;
  worker: "deployed" | "unchanged" | "would deploy" | "skipped" | "local";
  report: BuildReport;
}

export class GateError extends Error {
  constructor(readonly gate: GateResult) {
    super(`refusing to switch: ${gate.reasons.join("; ")} (use --force to deploy anyway)`);
    this.name = "GateError";
  }
}

export function recallGate(m: Pick<Manifest, "items" | "selfCheck">, live: Pick<Manifest, "items"> | null, o: { minRecall?: number; maxItemDrop?: number } = {}): GateResult {
  const minRecall = o.minRecall ?? DEFAULTS.minRecall;
  const maxItemDrop = o.maxItemDrop ?? DEFAULTS.maxItemDrop;
  const reasons: string[] = [];
  const recall = m.selfCheck?.recallAt10 ?? 0;
  if (!(recall >= minRecall)) reasons.push(`the build's recall@10 self-check is ${recall.toFixed(3)}, under the threshold ${minRecall}`);
  const liveItems = live && typeof live.items === "number" && live.items > 0 ? live.items : null;
  if (liveItems !== null && m.items < liveItems * (1 - maxItemDrop)) {
    reasons.push(`the item count dropped from ${liveItems} to ${m.items} (−${(((liveItems - m.items) / liveItems) * 100).toFixed(1)}%, more than the allowed ${(maxItemDrop * 100).toFixed(1)}%)`);
  }
  return { ok: reasons.length === 0, recallAt10: recall, minRecall, items: m.items, liveItems, maxItemDrop, reasons };
}

export const fmtBytes = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`);

/** The live version as a build base: from the artifacts dir when it holds that version, else from KV. */
async function liveBase(kv: KvWriter, live: Manifest, out: string, log: (s: string) => void): Promise<BaseIndex | undefined> {
  if (!Array.isArray(live.routing)) return undefined;
  const model = await prepareModel();
  if (live.model?.id !== model.modelId) {
    log(`not extending the live version: it was built with ${live.model?.id}, this build uses ${model.modelId}`);
    return undefined;
  }
  const local = await readManifest(out).catch(() => null);
  if (local?.version === live.version) {
    try {
      return await readBase(local, blobReader(out), out);
    } catch (e) {
      log(`the live version in ${out} cannot be read (${(e as Error).message}); reading it from KV`);
    }
  }
  try {
    return await readBase(live, (keys) => getTexts(kv, keys), "KV");
  } catch (e) {
    log(`not extending the live version: ${(e as Error).message}`);
    return undefined;
  }
}

/** Shard keys of the live version, to count what a deploy changes (empty when it has no readable routing). */
async function liveShardKeys(kv: KvWriter, live: Manifest | null): Promise<Set<string>> {
  if (!live || !Array.isArray(live.routing)) return new Set();
  const routing = await readRouting(live, (keys) => getTexts(kv, keys)).catch(() => null);
  return new Set(routing ? shardRefs(routing).map((r) => r.key) : []);
}

function breakdown(v: VersionValues, keys: Iterable<string>): UploadBreakdown {
  const kind = new Map<string, keyof UploadBreakdown>();
  for (const r of v.model) kind.set(r.key, "model");
  for (const r of v.routing) kind.set(r.key, "routing");
  for (const r of v.catalog) kind.set(r.key, "catalog");
  for (const r of v.shards) kind.set(r.key, "shards");
  for (const r of v.filters) kind.set(r.key, "filters");
  for (const r of v.resident) kind.set(r.key, "resident");
  for (const r of v.lexical) kind.set(r.key, "lexical");
  const out: UploadBreakdown = { model: 0, routing: 0, catalog: 0, shards: 0, filters: 0, resident: 0, lexical: 0, items: 0 };
  for (const k of keys) {
    if (k.startsWith("item/")) out.items++;
    else {
      const kd = kind.get(k);
      if (kd) out[kd]++;
    }
  }
  return out;
}

/** sha256 over the bundle's JS and wasm files, the way `wrangler deploy` would upload them. */
export async function workerBundleHash(): Promise<string> {
  const b = await bundleWorker();
  try {
    const h = createHash("sha256");
    for (const name of (await readdir(b.outDir)).filter((n) => /\.(m?js|wasm)$/.test(n)).sort()) {
      h.update(name).update("\0").update(await readFile(path.join(b.outDir, name)));
    }
    return h.digest("hex");
  } finally {
    await rm(b.outDir, { recursive: true, force: true });
  }
}

function runWranglerDeploy(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(wranglerBin(), ["deploy"], { cwd: PROJECT_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: WRANGLER_ENV.WRANGLER_SEND_METRICS }, stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler deploy exited ${code}`))));
  });
}

export async function runDeploy(kv: KvWriter, o: DeployOptions, log: (s: string) => void = (s) => process.stdout.write(s + "\n")): Promise<DeployResult> {
  // A dry run writes nothing, not even the artifacts directory, unless --out names one.
  const tmpOut = o.dryRun && !o.out ? await mkdtemp(path.join(os.tmpdir(), "ess-deploy-plan-")) : undefined;
  try {
    return await deploy(kv, { ...o, out: tmpOut ?? o.out }, log);
  } finally {
    if (tmpOut) await rm(tmpOut, { recursive: true, force: true });
  }
}

/** What is live before the deploy. */
interface LiveState {
  pointer: Pointer | null;
  live: Manifest | null;
  registry: Registry;
}

async function deploy(kv: KvWriter, o: DeployOptions, log: (s: string) => void): Promise<DeployResult> {
  const keep = o.keep ?? DEFAULTS.keep;
  if (!Number.isInteger(keep) || keep < 1) throw new Error("--keep must be an integer ≥ 1: edges may serve the previous version for a minute after the switch");
  // A dry run writes nothing and needs no lock; a deploy holds it from reading the live state to the end of GC.
  if (o.dryRun) return deployLocked(kv, o, keep, null, log);
  return withLock(kv, "deploy", { waitMs: o.lockWaitMs ?? 0, settleMs: o.local ? 50 : 2000, log }, (lock) => deployLocked(kv, o, keep, lock, log));
}

async function deployLocked(kv: KvWriter, o: DeployOptions, keep: number, lock: HeldLock | null, log: (s: string) => void): Promise<DeployResult> {
  const out = path.resolve(o.out ?? DEFAULT_OUT);
  const state = await readLiveState(kv, log);
  const { manifest, report } = await buildNext(kv, o, state, out, log);
  const gate = gateBuild(manifest, state, o, log);
  const planned = await planUpload(kv, manifest, state, out, log);
  const bundle = await checkWorkerCode(kv, o, log);
  const result: DeployResult = { status: "dry-run", version: manifest.version, previous: state.pointer?.version ?? null, gate, ...planned.summary, switchMs: null, gc: null, worker: bundle.worker, report };
  if (o.dryRun) return previewDryRun(kv, manifest, state, result, o, keep, out, log);
  if (!gate.ok && !o.force) {
    result.status = "refused";
    throw Object.assign(new GateError(gate), { result });
  }
  const manifestSha256 = await uploadValues(kv, planned, out, log);
  if (bundle.worker === "would deploy") result.worker = await deployWorkerCode(kv, o, bundle.hash!, log);
  await lock!.check();
  const registry = await switchVersion(kv, manifest, manifestSha256, state, result, log);
  result.gc = await collectOldVersions(kv, registry, manifest.version, keep, lock!, log);
  return result;
}

// 1. What is live
async function readLiveState(kv: KvWriter, log: (s: string) => void): Promise<LiveState> {
  const pointer = await readPointer(kv);
  const live = pointer ? await readManifestAt(kv, pointer.manifestKey) : null;
  if (pointer && !live) log(`warning: the live pointer names ${pointer.manifestKey}, which is unreadable; deploying as if nothing were live`);
  const registry = await readRegistry(kv);
  log(pointer ? `live version ${pointer.version}${live ? ` (${live.items ?? 0} items)` : ""}, switched ${pointer.switchedAt}` : "nothing live yet");
  return { pointer, live, registry };
}

// 2. Build, extending the live version when it can
async function buildNext(kv: KvWriter, o: DeployOptions, { live }: LiveState, out: string, log: (s: string) => void): Promise<{ manifest: Manifest; report: BuildReport }> {
  const base = o.extend !== false && live ? await liveBase(kv, live, out, log) : undefined;
  if (base) log(`building ${o.corpus}, extending live version ${live!.version}`);
  const built = await runBuild({ ...(o.build ?? {}), corpus: o.corpus, out, cacheDir: o.cacheDir, base, quiet: o.quietBuild });
  for (const line of reportLines(built.report)) log(line);
  return built;
}

// 3. Gate
function gateBuild(manifest: Manifest, { live }: LiveState, o: DeployOptions, log: (s: string) => void): GateResult {
  const gate = recallGate(manifest, live, o);
  log(
    `recall gate: recall@10 ${gate.recallAt10.toFixed(3)} (min ${gate.minRecall}), items ${gate.items}${gate.liveItems !== null ? ` vs ${gate.liveItems} live (max drop ${(gate.maxItemDrop * 100).toFixed(0)}%)` : ""}: ${gate.ok ? "pass" : o.force ? "FAIL, forced" : "FAIL"}`,
  );
  return gate;
}

type PlannedUpload = Awaited<ReturnType<typeof planPublish>> & { summary: Pick<DeployResult, "plan" | "uploadByKind" | "changedShards" | "shards" | "filterValues" | "residentBlocks" | "lexicalValues"> };

// 3. Plan: what KV lacks, and what changes against the live version
async function planUpload(kv: KvWriter, manifest: Manifest, { pointer, live }: LiveState, out: string, log: (s: string) => void): Promise<PlannedUpload> {
  const planned = await planPublish(kv, out);
  const { plan } = planned;
  const values = await artifactVersionValues(out, manifest);
  const uploadByKind = breakdown(values, plan.upload.map((u) => u.key));
  const liveShards = await liveShardKeys(kv, live);
  const changedShards = values.shards.filter((s) => !liveShards.has(s.key)).length;
  log(
    `plan: upload ${plan.upload.length} values (${fmtBytes(plan.uploadBytes)}): ${uploadByKind.items} items, ${uploadByKind.shards} shards, ${uploadByKind.filters} filter values, ${uploadByKind.resident} resident blocks, ${uploadByKind.lexical} lexical values, ${uploadByKind.routing} routing, ${uploadByKind.catalog} catalog, ${uploadByKind.model} model; ` +
      `skip ${plan.skip.length} values (${fmtBytes(plan.skipBytes)}) already in KV; ${changedShards} of ${values.shards.length} shards differ from the live version`,
  );
  log(pointer?.version === manifest.version ? `version ${manifest.version} is already live: no switch` : `switch: ${pointer?.version ?? "(none)"} → ${manifest.version}`);
  return { ...planned, summary: { plan, uploadByKind, changedShards, shards: values.shards.length, filterValues: values.filters.length, residentBlocks: values.resident.length, lexicalValues: values.lexical.length } };
}

// What the Worker code would do (remote only).
async function checkWorkerCode(kv: KvWriter, o: DeployOptions, log: (s: string) => void): Promise<{ worker: DeployResult["worker"]; hash?: string }> {
  if (o.local) return { worker: "local" };
  if (o.deployWorker === false) return { worker: "skipped" };
  // The code and the effective wrangler configuration together: a config-only change redeploys too.
  const hash = deployedWorkerHash(await workerBundleHash(), configHash());
  const deployed = await kv.get(WORKER_BUNDLE_KEY).then((t) => (t ? (JSON.parse(t) as { sha256?: string }).sha256 : undefined));
  const worker = deployed !== hash ? "would deploy" : "unchanged";
  log(`worker code and config: ${worker === "would deploy" ? `changed (${hash.slice(0, 12)}, deployed ${deployed?.slice(0, 12) ?? "never"}): wrangler deploy` : "unchanged"}`);
  return { worker, hash };
}

/** The registry with the live version recorded (published before deploys kept one, e.g. by npm start). */
function withLiveEntry({ pointer, live, registry }: LiveState): Registry {
  if (pointer && live && !registry.versions.some((v) => v.version === pointer.version)) upsert(registry, entryFor(live, pointer.switchedAt, pointer.switchedAt));
  return registry;
}

async function previewDryRun(kv: KvWriter, manifest: Manifest, state: LiveState, result: DeployResult, o: DeployOptions, keep: number, out: string, log: (s: string) => void): Promise<DeployResult> {
  const regPreview = withLiveEntry({ ...state, registry: { ...state.registry, versions: [...state.registry.versions] } });
  upsert(regPreview, entryFor(manifest, new Date().toISOString(), new Date().toISOString()));
  const gc = await planGc(kv, regPreview, manifest.version, keep, [
    { manifest, read: blobReader(out) },
  ]).catch((e: Error) => (log(`gc plan: ${e.message}`), null));
  if (gc) log(`gc plan: keep ${gc.keptVersions.join(", ")}; drop ${gc.droppedVersions.join(", ") || "no version"}; delete ${gc.delete.length} values`);
  result.gc = gc;
  if (!result.gate.ok && !o.force) log(`a real deploy would refuse to switch: ${result.gate.reasons.join("; ")}`);
  log("dry run: nothing written");
  return result;
}

// 4. Values, then the manifest
/** Uploads the values and the manifest; the manifest's sha256, for the pointer. */
async function uploadValues(kv: KvWriter, planned: PlannedUpload, out: string, log: (s: string) => void): Promise<string> {
  const { plan } = planned;
  const progress = new Progress("upload", plan.upload.length);
  const t0 = performance.now();
  const published = await publish(kv, out, { switchPointer: false, planned, onProgress: (d) => progress.update(d) });
  const uploadSecs = (performance.now() - t0) / 1000;
  log(`uploaded ${plan.upload.length} values (${fmtBytes(plan.uploadBytes)}) + manifest in ${uploadSecs.toFixed(1)} s; skipped ${plan.skip.length} values (${fmtBytes(plan.skipBytes)})`);
  return published.manifestSha256;
}

// 5. Worker code, before the switch: new code must serve the old index for a moment anyway.
async function deployWorkerCode(kv: KvWriter, o: DeployOptions, bundleHash: string, log: (s: string) => void): Promise<DeployResult["worker"]> {
  const tomlId = tomlNamespaceId();
  if (!tomlId || (o.namespaceId && tomlId !== o.namespaceId)) {
    throw new Error(`wrangler.toml's INDEX binding id is ${tomlId ?? "missing"}, but the index went to namespace ${o.namespaceId}; set the id in wrangler.toml (docs/deploy.md) so the Worker reads the namespace the deploy writes`);
  }
  log("deploying the Worker code (wrangler deploy) …");
  await runWranglerDeploy();
  await kv.put(WORKER_BUNDLE_KEY, JSON.stringify({ sha256: bundleHash, deployedAt: new Date().toISOString() }));
  return "deployed";
}

// 6. Registry, then the pointer: the one switching write
async function switchVersion(kv: KvWriter, manifest: Manifest, manifestSha256: string, state: LiveState, result: DeployResult, log: (s: string) => void): Promise<Registry> {
  const { pointer } = state;
  // Re-read just before writing: an entry another writer added since is kept.
  const registry = mergeRegistries(withLiveEntry(state), await readRegistry(kv));
  const unchanged = pointer?.version === manifest.version;
  const now = new Date().toISOString();
  const existing = registry.versions.find((v) => v.version === manifest.version);
  upsert(registry, entryFor(manifest, now, unchanged ? (existing?.switchedAt ?? pointer!.switchedAt) : now));
  await writeRegistry(kv, registry);
  if (unchanged) {
    result.status = "unchanged";
    log(`version ${manifest.version} was already live; nothing switched`);
    return registry;
  }
  const ts = performance.now();
  await kv.put(POINTER_KEY, encodePointer(manifest.version, now, manifestSha256));
  result.switchMs = performance.now() - ts;
  result.status = "deployed";
  log(`switched ${pointer?.version ?? "(none)"} → ${manifest.version} with one pointer write in ${result.switchMs.toFixed(0)} ms`);
  return registry;
}

// 7. Garbage: only after the switch, only what no kept version references
async function collectOldVersions(kv: KvWriter, registry: Registry, liveVersion: string, keep: number, lock: HeldLock, log: (s: string) => void): Promise<GcPlan | null> {
  try {
    const gc = await collectGarbage(kv, liveVersion, keep, registry, { beforeDelete: lock.check });
    log(`kept versions ${gc.keptVersions.join(", ")}; ${gc.droppedVersions.length ? `dropped ${gc.droppedVersions.join(", ")}; ` : ""}deleted ${gc.delete.length} unreferenced values`);
    return gc;
  } catch (e) {
    log(`warning: garbage collection skipped: ${(e as Error).message}`);
    return null;
  }
}
