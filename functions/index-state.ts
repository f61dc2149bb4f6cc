// Which index version this isolate answers from. The `current` pointer is
// re-read at most every POINTER_TTL_MS, off the request path; a version is adopted only once its
// manifest, index handle and model are usable, because KV is eventually
// consistent (the pointer may reach a PoP before what it names) and a broken new
// version must not take down the one already serving.
import { POINTER_KEY, manifestMismatch, parsePointer, type ModelRef, type Pointer } from "../lib/index/manifest.ts";
import { HttpError } from "./http.ts";
import { indexAdapter } from "./search-adapter.ts";
import type { ValueCache } from "../lib/index/fetch.ts";

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

/** A new version that fails to load is retried after 10 s, 20 s, 40 s, ... at most every 5 min. */
const RETRY_FIRST_MS = 10_000;
const RETRY_MAX_MS = 5 * 60_000;

/** The version answering requests; a candidate exists only while it loads, so at most two are in memory. */
let active: IndexVersion | undefined;
let checkedAt = -Infinity;
let refreshing: Promise<IndexVersion> | undefined;
/** The last version that failed to load, and when it may be tried again. */
let failure: { version: string; attempts: number; retryAt: number } | undefined;

export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempts - 1));
}

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
  throw new HttpError("index_corrupt", `KV key "${POINTER_KEY}" is not a valid pointer`);
}

async function loadVersion(kv: KVNamespace, pointer: Pointer, cache: ValueCache): Promise<IndexVersion | null> {
  const raw = await kv.get(pointer.manifestKey, "text");
  if (raw === null) return null;
  let manifest: ServedManifest;
  try {
    manifest = JSON.parse(raw) as ServedManifest;
  } catch {
    throw new HttpError("index_corrupt", `manifest ${pointer.manifestKey} is not JSON`);
  }
  if (!isModelRef(manifest?.model)) throw new HttpError("index_corrupt", `manifest ${pointer.manifestKey} names no valid model`);
  // Bound to the pointer: a manifest rewritten under the same key, or another version's, is not served.
  const mismatch = await manifestMismatch(pointer, raw, manifest.version);
  if (mismatch) throw new HttpError("index_corrupt", mismatch);
  const handle = await indexAdapter.open(manifest, kv, cache);
  return { version: pointer.version, manifest, items: typeof manifest.items === "number" ? manifest.items : 0, handle };
}

/** One log line per failed attempt, with the time of the next one. */
function recordFailure(version: string, err: unknown): void {
  const attempts = failure?.version === version ? failure.attempts + 1 : 1;
  const delay = retryDelayMs(attempts);
  failure = { version, attempts, retryAt: Date.now() + delay };
  const what = active ? `next attempt in ${delay / 1000} s, serving ${active.version} meanwhile` : "no version to serve";
  console.warn(`index version ${version} failed to load (attempt ${attempts}): ${err instanceof Error ? err.message : String(err)}; ${what}`);
}

export interface VersionHooks {
  /** The isolate's cache of decoded shards and records, which every version's index reads through. */
  cache: ValueCache;
  /** Must succeed before a version is served (e.g. load its model). */
  prepare(v: IndexVersion): Promise<void>;
  /** Called once a version has replaced the previous one. */
  adopted(v: IndexVersion): void;
}

/** Adopts the version the pointer names if it is new and loads; otherwise keeps (or lacks) the active one. */
async function adoptPointed(kv: KVNamespace, hooks: VersionHooks): Promise<IndexVersion> {
  const pointer = await readPointer(kv);
  if (pointer === null) {
    if (active) return active;
    throw new HttpError("index_unavailable", `no index published yet (KV key "${POINTER_KEY}" is missing)`);
  }
  if (pointer.version === active?.version) return active;
  // A broken version is not reloaded on every TTL: each model load reads the whole weight blob and costs seconds of CPU.
  if (active && failure?.version === pointer.version && Date.now() < failure.retryAt) return active;
  let next: IndexVersion | null;
  try {
    next = await loadVersion(kv, pointer, hooks.cache);
    if (next) await hooks.prepare(next);
  } catch (err) {
    recordFailure(pointer.version, err);
    throw err;
  }
  if (next === null) {
    // Pointer ahead of its manifest (KV lag): cheap to re-check on the next TTL, not a failure.
    if (active) return active;
    throw new HttpError("index_unavailable", `manifest ${pointer.manifestKey} is not readable yet`);
  }
  active = next;
  failure = undefined;
  hooks.adopted(next);
  return active;
}

function refresh(kv: KVNamespace, hooks: VersionHooks): Promise<IndexVersion> {
  refreshing ??= adoptPointed(kv, hooks)
    .catch((err: unknown) => {
      if (active) return active;
      throw err;
    })
    .finally(() => {
      checkedAt = Date.now();
      refreshing = undefined;
    });
  return refreshing;
}

/**
 * The index version to answer from. Once POINTER_TTL_MS has passed the pointer
 * is re-read in the background (`waitUntil`): a request never waits for a
 * refresh, or a new model's load, while a loaded version can answer. Only a cold
 * isolate, with nothing to serve, waits.
 */
export function currentIndex(kv: KVNamespace, ttlMs: number, hooks: VersionHooks, waitUntil: (p: Promise<unknown>) => void): Promise<IndexVersion> {
  if (!active) return refresh(kv, hooks);
  if (!refreshing && Date.now() - checkedAt >= ttlMs) waitUntil(refresh(kv, hooks).catch(() => undefined));
  return Promise.resolve(active);
}
