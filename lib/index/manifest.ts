// The manifest is the one small JSON document that names everything a version of
// the index consists of. Every blob it names lives under a content-addressed KV
// key, so a key's bytes never change and two versions share whatever they have in
// common; switching versions is a single write of the `current` pointer.

import type { FilterField } from "../filter/values.ts";

export const FORMAT = "edge-semantic-search/7";
export const POINTER_KEY = "current";

export interface BlobRef {
  /** KV key, `blob/<first 32 hex of sha256>`. */
  key: string;
  bytes: number;
  /** Full hex sha256 of the stored bytes; the Worker verifies it before use. */
  sha256: string;
}

export interface ModelRef {
  /** e.g. `use-lite@0.2.0/f16-eb4a22ccfb06` */
  id: string;
  dim: number;
  /** model.json (topology + float16 weights manifest, single path). */
  topology: BlobRef;
  /** The float16/float32 weight bytes the manifest describes, one blob. */
  weights: BlobRef;
  vocab: BlobRef;
}

export interface Pointer {
  version: string;
  manifestKey: string;
  switchedAt: string;
  /**
   * sha256 of the manifest's stored text: binds the pointer to the exact manifest
   * it switched to (a rewritten or corrupted manifest is refused). Absent only in
   * pointers written before it existed.
   */
  manifestSha256?: string;
}

export function manifestKeyFor(version: string): string {
  return `manifest/${version}`;
}

/** The one writer of the `current` pointer's value. */
export function encodePointer(version: string, switchedAt: string, manifestSha256?: string): string {
  const p: Pointer = { version, manifestKey: manifestKeyFor(version), switchedAt, ...(manifestSha256 ? { manifestSha256 } : {}) };
  return JSON.stringify(p);
}

/** The one reader of it: null when the text is not a pointer. */
export function parsePointer(text: string): Pointer | null {
  try {
    const p = JSON.parse(text) as Pointer;
    if (typeof p?.version === "string" && typeof p?.manifestKey === "string") {
      const hash = typeof p.manifestSha256 === "string" && /^[0-9a-f]{64}$/.test(p.manifestSha256) ? { manifestSha256: p.manifestSha256 } : {};
      return { version: p.version, manifestKey: p.manifestKey, switchedAt: typeof p.switchedAt === "string" ? p.switchedAt : "", ...hash };
    }
  } catch {
    /* not JSON */
  }
  return null;
}

/**
 * Why `manifestText` is not the manifest `pointer` switched to, or null when it
 * is: its version must be the pointer's and, when the pointer carries one, its
 * sha256 the pointer's.
 */
export async function manifestMismatch(pointer: Pointer, manifestText: string, version: unknown): Promise<string | null> {
  if (version !== pointer.version) return `manifest ${pointer.manifestKey} says version ${JSON.stringify(version)}, the pointer ${pointer.version}`;
  if (pointer.manifestSha256 !== undefined) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(manifestText)));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== pointer.manifestSha256) return `manifest ${pointer.manifestKey}: sha256 differs from the pointer's`;
  }
  return null;
}

export interface IndexParams {
  leaves: number;
  /** Top-level clusters; their int8 centroids pick which leaves are scored at all. */
  groups: number;
  /** Leaves scored per query: groups are taken best first until this many leaves are in. */
  scanLeaves: number;
  pqM: number;
  /** Leaves probed per query (round 1), at least; chosen by the build's self-check. */
  nprobe: number;
  /**
   * Unfiltered queries also probe every further leaf whose centroid scores
   * within this margin of the best, up to PROBE_SPREAD × nprobe
   * (lib/index/leaves.ts); absent in older manifests, which probe nprobe always.
   */
  probeMargin?: number;
  /** Candidates re-ranked with int8 vectors (round 2), at most. */
  rerank: number;
  /**
   * Round 2 re-ranks the candidates whose PQ scores are within this margin of
   * the k-th best (at least 2k, at most `rerank`: lib/index/rerank-depth.ts);
   * absent in older manifests, which re-rank `rerank` always.
   */
  rerankMargin?: number;
  seed: number;
  /** Round-1 byte cap per query (shard bytes, as stored); absent = no cap. */
  maxShardBytes?: number;
}

export interface SelfCheck {
  queries: number;
  k: number;
  /** The predicted recall@10: the mean over the query kinds of each kind's recall. */
  recallAt10: number;
  /** Mean bytes of shard + item values one query reads, and sequential KV rounds. */
  meanBytes: number;
  maxBytes: number;
  roundTrips: number;
  /** recall/bytes for each nprobe (and round-1 shard cap, when the check raised it) tried, to show the trade-off; byKind as below (absent in older manifests). */
  curve: Array<{ nprobe: number; rerank: number; maxShardBytes?: number; recallAt10: number; meanBytes: number; byKind?: Record<string, number> }>;
  /** Each query kind (scripts/builder/check/perturb.ts) at the chosen nprobe: how many, and their recall@10. Absent in older manifests. */
  byKind?: Record<string, { queries: number; recallAt10: number }>;
  /** The recall the check aimed for: the goal plus its margin (absent in older manifests). */
  target?: number;
}

export interface ManifestFilters {
  fields: FilterField[];
  table: BlobRef[];
  /** Each column's smallest and largest encoded value (null: no item has one), exact, for GET /fields: the table's bounds are rounded to float32. */
  ranges: Array<[number, number] | null>;
  /**
   * How near the cells hold an item's neighbours, as the build's self-check
   * finds it: [share of the cells, nearest first (lib/index/cells.ts); share
   * of the query proxies' nearest COVERAGE_DEPTH items they hold], by growing
   * share. The filtered plan reads the nearest cells' chunks only where this
   * predicts enough of a filter's near matches (lib/index/filtered-search.ts).
   * Absent in builds without filterable fields.
   */
  cellCoverage?: Array<[number, number]>;
}

export interface ManifestResident {
  blocks: BlobRef[];
  items: number;
  bytes: number;
}

/** The lexical index (format.ts, sections 9–11): its head's parts and how its values were cut. */
export interface ManifestLexical {
  head: BlobRef[];
  /** Distinct terms, lexicon parts and postings tails. */
  terms: number;
  parts: number;
  tails: number;
  /** A lexicon part ends after a term whose mixed hash is 0 mod this (content-defined cuts). */
  cut: number;
  /** Present when the build kept a base version's lexicon (the head, parts and tails above) and added a delta (format.ts §12). */
  delta?: ManifestLexiconDelta;
}

/** A lexicon delta's stored parts and what it holds. */
export interface ManifestLexiconDelta {
  parts: BlobRef[];
  /** Items whose postings it holds, main-lexicon items it removes, its terms and postings. */
  items: number;
  removed: number;
  terms: number;
  postings: number;
}

export interface Manifest {
  format: typeof FORMAT;
  /** Content hash of everything below except createdAt: equal inputs, equal version. */
  version: string;
  createdAt: string;
  model: ModelRef;
  dim: number;
  items: number;
  params: IndexParams;
  /** The routing's parts, in order (format.ts); it names every shard by key, size and hash. */
  routing: BlobRef[];
  /**
   * Item records (`item/<16 hex>`) are too many to list here; the catalog's
   * parts list them (format.ts). A record's key is its own sha256 prefix, so the
   * list needs no separate checksums.
   */
  catalog: BlobRef[];
  totals: {
    indexBytes: number;
    itemBytes: number;
    modelBytes: number;
    shards: number;
    shardBytes: number;
    /** (routing + shards + item records) / items */
    bytesPerItem: number;
    /** Stored bytes of the resident blocks, when written (not in indexBytes or bytesPerItem: a copy of the records). */
    residentBytes?: number;
    kvValues: number;
  };
  selfCheck: SelfCheck;
  corpus: {
    file: string;
    sha256: string;
    format: string;
    textColumn: string | null;
    metaColumns: string[];
    skippedBlank: number;
  };
  /**
   * Filterable metadata columns (format.ts, sections 5–7): their names, types
   * and string dictionaries, and the parts of the filter table. Absent when the
   * build declared none.
   */
  filters?: ManifestFilters;
  /**
   * The item records packed for isolate memory (format.ts, section 8), present
   * when the build found they fit RESIDENT_MAX_BYTES. `bytes` is their decoded
   * size, what a Worker holds once it has loaded them.
   */
  resident?: ManifestResident;
  /** The lexical index, present when the build wrote one: lexical and hybrid search need it. */
  lexical?: ManifestLexical;
  /** A few short item texts the search page offers as example queries (absent in older indexes). */
  examples?: string[];
}
