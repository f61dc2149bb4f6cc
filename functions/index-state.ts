// Which index version this isolate answers from. The `current` pointer is
// re-read at most every POINTER_TTL_MS; a version is adopted only once its
// manifest, index handle and model are usable, because KV is eventually
// consistent (the pointer may reach a PoP before what it names) and a broken new
// version must not take down the one already serving.
import { POINTER_KEY, parsePointer, type ModelRef, type Pointer } from "../lib/index/manifest.ts";
import { HttpError } from "./http.ts";
import { indexAdapter } from "./search-adapter.ts";

/** The part of the lead's manifest the Worker itself reads. */
export interface ServedManifest {
  version: string;
  model: ModelRef;
  items?: number;
}

export interface IndexVersion {
  version: string;
  manifest: ServedManifest;
  items: number;
  handle: Awaited<ReturnType<typeof indexAdapter.open>>;
}

const MAX_CACHED_VERSIONS = 3;
const versions = new Map<string, IndexVersion>();
let active: IndexVersion | undefined;
let checkedAt = -Infinity;
let refreshing: Promise<IndexVersion> | undefined;

function isModelRef(m: unknown): m is ModelRef {
  const r = m as ModelRef;
  const blob = (b: unknown) =>
    typeof b === "object" && b !== null && typeof (b as { key?: unknown }).key === "string" && typeof (b as { sha256?: unknown }).sha256 === "string" && typeof (b as { bytes?: unknown }).bytes === "number";
  return typeof r === "object" && r !== null && typeof r.id === "string" && blob(r.topology) && blob(r.weights) && blob(r.vocab);
}

async function readPointer(kv: KVNamespace): Promise<Pointer | null> {
  const raw = await kv.get(POINTER_KEY, "text");
  if (raw === null) return null;
  const p = parsePointer(raw);
  if (p) return p;
  throw new HttpError(503, "index_corrupt", `KV key "${POINTER_KEY}" is not a valid pointer`);
}

async function loadVersion(kv: KVNamespace, pointer: Pointer): Promise<IndexVersion | null> {
  const cached = versions.get(pointer.version);
  if (cached) return cached;
  const raw = await kv.get(pointer.manifestKey, "text");
  if (raw === null) return null;
  let manifest: ServedManifest;
  try {
    manifest = JSON.parse(raw) as ServedManifest;
  } catch {
    throw new HttpError(503, "index_corrupt", `manifest ${pointer.manifestKey} is not JSON`);
  }
  if (!isModelRef(manifest?.model)) throw new HttpError(503, "index_corrupt", `manifest ${pointer.manifestKey} names no valid model`);
  const handle = await indexAdapter.open(manifest, kv);
  const v: IndexVersion = { version: pointer.version, manifest, items: typeof manifest.items === "number" ? manifest.items : 0, handle };
  versions.set(v.version, v);
  while (versions.size > MAX_CACHED_VERSIONS) versions.delete(versions.keys().next().value as string);
  return v;
}

export interface VersionHooks {
  /** Must succeed before a version is served (e.g. load its model). */
  prepare(v: IndexVersion): Promise<void>;
  /** Called once a version has replaced the previous one. */
  adopted(v: IndexVersion): void;
}

async function refresh(kv: KVNamespace, hooks: VersionHooks): Promise<IndexVersion> {
  try {
    const pointer = await readPointer(kv);
    if (pointer === null) {
      if (active) return active;
      throw new HttpError(503, "index_unavailable", `no index published yet (KV key "${POINTER_KEY}" is missing)`);
    }
    if (pointer.version === active?.version) return active;
    const next = await loadVersion(kv, pointer);
    if (next === null) {
      // Pointer ahead of its manifest: keep serving what we have.
      if (active) return active;
      throw new HttpError(503, "index_unavailable", `manifest ${pointer.manifestKey} is not readable yet`);
    }
    await hooks.prepare(next);
    active = next;
    hooks.adopted(next);
    return active;
  } catch (err) {
    if (active) return active;
    throw err;
  }
}

/** The index version to answer from, re-checking the pointer after its TTL. */
export function currentIndex(kv: KVNamespace, ttlMs: number, hooks: VersionHooks): Promise<IndexVersion> {
  const now = Date.now();
  if (active && now - checkedAt < ttlMs) return Promise.resolve(active);
  refreshing ??= refresh(kv, hooks).finally(() => {
    checkedAt = Date.now();
    refreshing = undefined;
  });
  return refreshing;
}
