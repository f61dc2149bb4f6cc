// Loads a serving version's resident records (lib/index/resident.ts) in the
// background, once per version: queries answer from KV meanwhile, and from
// memory once the copy is in. Residency only changes where round 2's records
// come from, never the answer, so a copy that fails to load costs latency, not
// results; it is tried again after RETRY_MS.
import { loadResident } from "../lib/index/resident.ts";
import type { IndexHandle } from "../lib/index/reader.ts";
import type { Config } from "./config.ts";

const RETRY_MS = 60_000;

export type ResidentState = "none" | "off" | "over_budget" | "loading" | "loaded" | "failed";

interface Status {
  state: ResidentState;
  /** When the current attempt started, or the last one failed (Date.now()). */
  at: number;
  loadMs?: number;
  error?: string;
}

const statuses = new WeakMap<IndexHandle, Status>();
/**
 * The one handle whose copy this isolate keeps. Two copies would not fit beside
 * the model (docs/decisions.md#resident-copy-budget), so adopting a version drops the previous
 * version's copy at once, even while a request on it finishes (from KV); its
 * status goes too, so that it loads again should it ever serve again.
 */
let holder: IndexHandle | null = null;

function hold(h: IndexHandle): void {
  if (holder === h) return;
  if (holder) {
    holder.resident = null;
    statuses.delete(holder);
  }
  holder = h;
}

/** Starts loading the handle's resident copy if it has one that fits and none is loaded or loading. */
export function ensureResident(h: IndexHandle | null, config: Pick<Config, "residentBytes">, waitUntil: (p: Promise<unknown>) => void): void {
  if (!h) return;
  hold(h);
  const copy = h.manifest.resident;
  if (!copy) return;
  const s = statuses.get(h);
  if (s && (s.state !== "failed" || Date.now() - s.at < RETRY_MS)) return;
  if (copy.bytes > config.residentBytes) {
    statuses.set(h, { state: config.residentBytes === 0 ? "off" : "over_budget", at: Date.now() });
    return;
  }
  const status: Status = { state: "loading", at: Date.now() };
  statuses.set(h, status);
  const t0 = performance.now();
  waitUntil(
    loadResident(copy, h.routing.dim, h.source).then(
      (table) => {
        // Another version may have taken over while this one loaded.
        if (holder !== h) return;
        h.resident = table;
        status.state = "loaded";
        status.loadMs = Math.round(performance.now() - t0);
      },
      (err: unknown) => {
        status.state = "failed";
        status.at = Date.now();
        status.error = err instanceof Error ? err.message : String(err);
        console.warn(`resident records of version ${h.manifest.version} failed to load: ${status.error}; round 2 reads KV, next attempt in ${RETRY_MS / 1000} s`);
      },
    ),
  );
}

/** For /healthz: whether round 2 reads from memory, and why not. */
export function residentStatus(h: IndexHandle | null, config: Pick<Config, "residentBytes">) {
  const copy = h?.manifest.resident;
  if (!h || !copy) return { state: "none" as ResidentState };
  const s = statuses.get(h);
  return {
    state: s?.state ?? ("none" as ResidentState),
    items: copy.items,
    bytes: copy.bytes,
    budget_bytes: config.residentBytes,
    ...(s?.loadMs !== undefined ? { load_ms: s.loadMs } : {}),
    ...(s?.error ? { error: s.error } : {}),
  };
}
