// What storing a built index in Workers KV costs: the writes and stored bytes of
// a full deploy (every value once), and an estimate for a deploy after CHANGE_SHARE of
// the items changed, from the index's own shapes. An extending build keeps
// every leaf, attribute and chunk that holds none of the changed items byte for
// byte (docs/deploy.md), so a value with e entries is rewritten with
// probability 1 − (1 − p)^e when a share p of the items changes at random; the
// parts of the routing, catalog and filter table change with any change. The
// incremental bench measures the same at 50k (docs/bench-hybrid.md), where this
// estimate can be checked against it.
import { shardStoredLength } from "../../lib/index/format.ts";
import type { Manifest } from "../../lib/index/manifest.ts";
import { readRouting } from "../../lib/index/version.ts";
import { blobReader } from "../artifacts/dir.ts";
import type { BuildReport } from "../builder/build.ts";

/** The share of items a small change touches, as the incremental bench (half edited, half removed). */
export const CHANGE_SHARE = 0.01;

export interface KvKind {
  kind: string;
  values: number;
  bytes: number;
}

export interface KvCost {
  full: { writes: number; bytes: number; kinds: KvKind[] };
  /** Values and bytes a deploy after a CHANGE_SHARE change writes, expected (not a build that ran). */
  change: { share: number; writes: number; bytes: number; kinds: KvKind[] };
}

export async function kvCost(dir: string, manifest: Manifest, report: BuildReport, manifestBytes: number): Promise<KvCost> {
  const p = CHANGE_SHARE;
  const touched = (entries: number) => 1 - Math.pow(1 - p, entries);
  const routing = await readRouting(manifest, blobReader(dir));
  let shardValues = 0;
  let shardBytes = 0;
  for (const size of routing.leafSizes) {
    shardValues += touched(size);
    shardBytes += touched(size) * shardStoredLength(size, routing.pqM);
  }
  const f = report.filters;
  const columns = f.fields.length;
  // Each item sits once in value order and once in cell order, per column.
  const chunkEntries = f.chunks ? (2 * columns * manifest.items) / f.chunks : 0;
  const tableParts = manifest.filters?.table.length ?? 0;
  const meanRecord = manifest.totals.itemBytes / manifest.items;
  const edited = (p / 2) * manifest.items;
  const shareOfLeaves = shardValues / routing.leaves;
  const full: KvKind[] = [
    { kind: "model", values: 3, bytes: manifest.totals.modelBytes },
    { kind: "routing", values: manifest.routing.length, bytes: report.bytes.routing },
    { kind: "catalog", values: manifest.catalog.length, bytes: report.bytes.catalog },
    { kind: "shards", values: report.shards.count, bytes: report.bytes.shards },
    { kind: "filters", values: tableParts + routing.leaves * (columns ? 1 : 0) + f.chunks, bytes: f.tableBytes + f.attributeBytes + f.chunkBytes },
    { kind: "resident", values: manifest.resident?.blocks.length ?? 0, bytes: report.bytes.resident },
    { kind: "lexical", values: report.lexical.parts + report.lexical.tails + (manifest.lexical?.head.length ?? 0), bytes: report.lexical.partBytes + report.lexical.tailBytes },
    { kind: "items", values: manifest.items, bytes: manifest.totals.itemBytes },
    { kind: "manifest", values: 1, bytes: manifestBytes },
  ];
  const change: KvKind[] = [
    { kind: "routing", values: manifest.routing.length, bytes: report.bytes.routing },
    { kind: "catalog", values: manifest.catalog.length, bytes: report.bytes.catalog },
    { kind: "shards", values: shardValues, bytes: shardBytes },
    {
      kind: "filters",
      values: tableParts + (columns ? shardValues : 0) + f.chunks * touched(chunkEntries),
      bytes: f.tableBytes + (columns ? f.attributeBytes * shareOfLeaves : 0) + f.chunkBytes * touched(chunkEntries),
    },
    { kind: "resident", values: manifest.resident?.blocks.length ?? 0, bytes: report.bytes.resident },
    // An extending build keeps the base lexicon and writes one delta value (docs/decisions.md#lexicon-delta): the removed and added items' postings.
    { kind: "lexical", values: 1, bytes: ((report.lexical.partBytes + report.lexical.tailBytes) / manifest.items) * 2 * edited },
    { kind: "items", values: edited, bytes: edited * meanRecord },
    { kind: "manifest", values: 1, bytes: manifestBytes },
  ].map((k) => ({ ...k, values: Math.round(k.values), bytes: Math.round(k.bytes) }));
  const sum = (ks: KvKind[]) => ({ writes: ks.reduce((a, k) => a + k.values, 0), bytes: ks.reduce((a, k) => a + k.bytes, 0) });
  return { full: { ...sum(full), kinds: full }, change: { share: p, ...sum(change), kinds: change } };
}
