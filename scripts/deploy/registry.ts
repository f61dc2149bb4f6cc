// The versions registry (KV key `versions`), the live pointer, and garbage
// collection of values no kept version references.
//
// Write order, always: values → manifest → registry → pointer. The registry is
// bookkeeping for rollback/versions/GC; the Worker reads only the pointer.
import { POINTER_KEY, manifestKeyFor, parsePointer, type Manifest, type Pointer } from "../../lib/index/manifest.ts";
import { allValues, versionValues, type ReadTexts } from "../../lib/index/version.ts";
import type { KvWriter } from "./publish.ts";
import { sha256Hex } from "../../lib/index/sha256.ts";

export const REGISTRY_KEY = "versions";
export const WORKER_BUNDLE_KEY = "worker-bundle";
export const REGISTRY_FORMAT = "edge-semantic-search/versions/1";
/** Prefixes garbage collection may delete from; anything else (pointer, registry, …) is never touched. */
export const GC_PREFIXES = ["blob/", "item/", "manifest/"] as const;

export interface VersionEntry {
  version: string;
  manifestKey: string;
  /** When the build made it (manifest.createdAt). */
  createdAt: string;
  /** When a deploy uploaded it. */
  deployedAt: string;
  /** Last time the pointer was switched to it (deploy or rollback); null if never live. */
  switchedAt: string | null;
  items: number;
  recallAt10: number | null;
  corpus: { file: string; sha256: string } | null;
}

export interface Registry {
  format: typeof REGISTRY_FORMAT;
  versions: VersionEntry[];
}

export function emptyRegistry(): Registry {
  return { format: REGISTRY_FORMAT, versions: [] };
}

export async function readRegistry(kv: KvWriter): Promise<Registry> {
  const raw = await kv.get(REGISTRY_KEY);
  if (raw === null) return emptyRegistry();
  const r = JSON.parse(raw) as Registry;
  if (r?.format !== REGISTRY_FORMAT || !Array.isArray(r.versions)) throw new Error(`KV key "${REGISTRY_KEY}" is not a versions registry`);
  return r;
}

export async function writeRegistry(kv: KvWriter, r: Registry): Promise<void> {
  await kv.put(REGISTRY_KEY, JSON.stringify(r));
}

export async function readPointer(kv: KvWriter): Promise<Pointer | null> {
  const raw = await kv.get(POINTER_KEY);
  if (raw === null) return null;
  const p = parsePointer(raw);
  if (p === null) throw new Error(`KV key "${POINTER_KEY}" is not a valid pointer`);
  return p;
}

/** The manifest a key names, or null if absent. Model-only manifests (no index) parse too. */
export async function readManifestAt(kv: KvWriter, key: string): Promise<Manifest | null> {
  const raw = await kv.get(key);
  return raw === null ? null : (JSON.parse(raw) as Manifest);
}

export function entryFor(m: Manifest, deployedAt: string, switchedAt: string | null): VersionEntry {
  return {
    version: m.version,
    manifestKey: manifestKeyFor(m.version),
    createdAt: m.createdAt ?? deployedAt,
    deployedAt,
    switchedAt,
    items: typeof m.items === "number" ? m.items : 0,
    recallAt10: typeof m.selfCheck?.recallAt10 === "number" ? m.selfCheck.recallAt10 : null,
    corpus: m.corpus ? { file: m.corpus.file, sha256: m.corpus.sha256 } : null,
  };
}

export function upsert(r: Registry, e: VersionEntry): void {
  const i = r.versions.findIndex((v) => v.version === e.version);
  if (i >= 0) r.versions[i] = { ...r.versions[i], ...e, createdAt: r.versions[i].createdAt, deployedAt: r.versions[i].deployedAt };
  else r.versions.push(e);
}

/** Most recently live first; never-live versions last, newest deploy first. */
export function byRecency(a: VersionEntry, b: VersionEntry): number {
  const sa = a.switchedAt ?? "";
  const sb = b.switchedAt ?? "";
  if (sa !== sb) return sa < sb ? 1 : -1;
  return a.deployedAt < b.deployedAt ? 1 : a.deployedAt > b.deployedAt ? -1 : 0;
}

/** Splits the registry into what stays (live + `keep` most recent others) and what goes. */
export function retention(r: Registry, liveVersion: string | null, keep: number): { kept: VersionEntry[]; dropped: VersionEntry[] } {
  const live = r.versions.filter((v) => v.version === liveVersion);
  const others = r.versions.filter((v) => v.version !== liveVersion).sort(byRecency);
  return { kept: [...live, ...others.slice(0, keep)], dropped: others.slice(keep) };
}

/**
 * Every KV key a manifest needs: itself, its blobs and its item records, read
 * through `read` (KV or the artifacts directory). A model-only manifest (no
 * index) needs its model. Throws rather than guess when a part is unreadable.
 */
export async function referencedKeys(m: Manifest, read: ReadTexts): Promise<Set<string>> {
  const keys = new Set<string>([manifestKeyFor(m.version)]);
  if (m.model) for (const r of [m.model.topology, m.model.weights, m.model.vocab]) keys.add(r.key);
  if (Array.isArray(m.routing)) for (const r of allValues(await versionValues(m, read))) keys.add(r.key);
  return keys;
}

export interface GcPlan {
  keptVersions: string[];
  droppedVersions: string[];
  delete: string[];
}

/**
 * What GC deletes once `liveVersion` is live: keys under blob/, item/, manifest/
 * that none of the kept versions references. `extra` manifests (e.g. the one a
 * dry run is about to upload) count as kept. Refuses (throws) rather than guess
 * when a kept manifest is unreadable.
 */
export async function planGc(
  kv: KvWriter,
  registry: Registry,
  liveVersion: string | null,
  keep: number,
  extra: Array<{ manifest: Manifest; read: ReadTexts }> = [],
): Promise<GcPlan> {
  const { kept, dropped } = retention(registry, liveVersion, keep);
  const referenced = new Set<string>();
  const extraVersions = new Set(extra.map((e) => e.manifest.version));
  for (const e of extra) for (const k of await referencedKeys(e.manifest, e.read)) referenced.add(k);
  for (const v of kept) {
    if (extraVersions.has(v.version)) continue;
    const m = await readManifestAt(kv, v.manifestKey);
    if (m === null) throw new Error(`kept version ${v.version}: ${v.manifestKey} is unreadable; not collecting garbage`);
    for (const k of await referencedKeys(m, (keys) => getTexts(kv, keys))) referenced.add(k);
  }
  const del: string[] = [];
  for (const prefix of GC_PREFIXES) for (const k of await kv.listKeys(prefix)) if (!referenced.has(k)) del.push(k);
  return { keptVersions: kept.map((v) => v.version), droppedVersions: dropped.map((v) => v.version), delete: del.sort() };
}

/**
 * Runs GC: trims the registry to the kept versions, then deletes unreferenced
 * values. `registry` is the one the caller just wrote, if any: a KV read right
 * after a write may still return the old value.
 */
export async function collectGarbage(kv: KvWriter, liveVersion: string, keep: number, registry?: Registry, opts: { beforeDelete?: () => Promise<void> } = {}): Promise<GcPlan> {
  const reg = registry ?? (await readRegistry(kv));
  const first = await planGc(kv, reg, liveVersion, keep);
  // Just before deleting: the pointer must still be ours, and what another writer
  // registered meanwhile is kept too. Only keys both plans drop are deleted.
  await opts.beforeDelete?.();
  const pointer = await readPointer(kv);
  if (pointer?.version !== liveVersion) throw new Error(`the pointer now names ${pointer?.version ?? "nothing"}, not ${liveVersion}: another deploy or rollback ran; not deleting`);
  const merged = mergeRegistries(reg, await readRegistry(kv));
  const second = await planGc(kv, merged, liveVersion, keep);
  const again = new Set(second.delete);
  const plan: GcPlan = { ...second, delete: first.delete.filter((k) => again.has(k)) };
  if (plan.droppedVersions.length) {
    const keptSet = new Set(plan.keptVersions);
    await writeRegistry(kv, { ...merged, versions: merged.versions.filter((v) => keptSet.has(v.version)) });
  }
  if (plan.delete.length) {
    if (!kv.delete) throw new Error("this KV writer cannot delete");
    await kv.delete(plan.delete);
  }
  return plan;
}

/** Every version either registry lists (ours wins for a version both list): a read-modify-write that loses no one's entry. */
export function mergeRegistries(ours: Registry, theirs: Registry): Registry {
  const out: Registry = { ...ours, versions: [...ours.versions] };
  for (const v of theirs.versions) if (!out.versions.some((o) => o.version === v.version)) out.versions.push(v);
  return out;
}

/** Checks that a kept version is complete in KV (manifest, every blob, every item) before switching to it. */
export async function missingValues(kv: KvWriter, m: Manifest): Promise<string[]> {
  const needed = await referencedKeys(m, (keys) => getTexts(kv, keys));
  const present = new Set<string>();
  for (const prefix of GC_PREFIXES) for (const k of await kv.listKeys(prefix)) present.add(k);
  return [...needed].filter((k) => !present.has(k));
}

/**
 * The values of a version whose stored text does not hash to its content address
 * (blob/ and item/ keys are the first hex digits of the sha256 of their UTF-8
 * text): what a rollback must not switch to. Reads every value once. The model
 * blobs are binary and checked by the Worker as it loads them, so only their
 * presence is checked here (missingValues).
 */
export async function corruptValues(kv: KvWriter, m: Manifest): Promise<string[]> {
  const model = new Set(m.model ? [m.model.topology.key, m.model.weights.key, m.model.vocab.key] : []);
  const keys = [...(await referencedKeys(m, (ks) => getTexts(kv, ks)))].filter((k) => !model.has(k) && /^(blob|item)\/[0-9a-f]+$/.test(k));
  const bad: string[] = [];
  for (let i = 0; i < keys.length; i += 256) {
    const texts = await getTexts(kv, keys.slice(i, i + 256));
    for (const [key, text] of texts) {
      if (text === null) continue; // missing: missingValues reports it
      const hash = key.slice(key.indexOf("/") + 1);
      if (!(await sha256Hex(text)).startsWith(hash)) bad.push(key);
    }
  }
  return bad.sort();
}

/** Parallel reads through whatever the writer offers. */
export async function getTexts(kv: KvWriter & { getMany?: (keys: string[]) => Promise<Map<string, string | null>> }, keys: string[]): Promise<Map<string, string | null>> {
  if (kv.getMany) return kv.getMany(keys);
  const out = new Map<string, string | null>();
  for (let i = 0; i < keys.length; i += 16) {
    const chunk = keys.slice(i, i + 16);
    const vals = await Promise.all(chunk.map((k) => kv.get(k)));
    chunk.forEach((k, j) => out.set(k, vals[j]));
  }
  return out;
}
