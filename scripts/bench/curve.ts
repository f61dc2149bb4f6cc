// Recall@10 against bytes per query over the index's main knobs — leaves probed
// (round 1), candidates re-ranked (round 2) and shard size (mean items per leaf,
// one build each) — computed in-process with the Worker's search code
// (lib/index/reader.ts) over each build's artifacts, held in memory. A decoded
// value cache only saves CPU here: `stats.bytes` counts every value a query
// needs whether cached or not, i.e. what a cold isolate would read from KV.
import { valueCache } from "../../lib/index/fetch.ts";
import type { Manifest } from "../../lib/index/manifest.ts";
import { openIndex, searchVector } from "../../lib/index/reader.ts";
import { MemorySource } from "../artifacts/memory-source.ts";
import { dist, mean, recallAt } from "./stats.ts";

export interface CurvePoint {
  leafSize: number;
  leaves: number;
  nprobe: number;
  rerank: number;
  recallAt10: number;
  recallAt1: number;
  meanBytes: number;
  p95Bytes: number;
  meanRecords: number;
  /** The build's own operating point (manifest nprobe and rerank). */
  isDefault: boolean;
}

export const NPROBE_SWEEP = [2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256];
export const RERANK_SWEEP = [10, 20, 40, 80, 160];

export async function sweep(
  build: { dir: string; manifest: Manifest; leafSize: number },
  queries: readonly Float32Array[],
  truthIds: readonly string[][],
  o: { k: number; nprobes?: number[]; reranks?: number[]; log?: (s: string) => void },
): Promise<CurvePoint[]> {
  const { manifest } = build;
  const handle = await openIndex(manifest, await MemorySource.fromDir(build.dir, manifest), valueCache(2 ** 31, 2 ** 31, 2 ** 31));
  const leaves = manifest.params.leaves;
  const nprobes = [...new Set([...(o.nprobes ?? NPROBE_SWEEP).filter((p) => p < leaves), manifest.params.nprobe, Math.min(leaves, 256)])].sort((a, b) => a - b);
  const reranks = [...new Set([...(o.reranks ?? RERANK_SWEEP), manifest.params.rerank])].filter((r) => r >= o.k).sort((a, b) => a - b);
  const points: CurvePoint[] = [];
  for (const rerank of reranks) {
    for (const nprobe of nprobes) {
      const r10: number[] = [];
      const r1: number[] = [];
      const bytes: number[] = [];
      const records: number[] = [];
      for (let i = 0; i < queries.length; i++) {
        const { results, stats } = await searchVector(handle, queries[i], { k: o.k, nprobe, rerank });
        const ids = results.map((r) => r.id);
        r10.push(recallAt(ids, truthIds[i], o.k));
        r1.push(ids[0] === truthIds[i][0] ? 1 : 0);
        bytes.push(stats.bytes);
        records.push(stats.records);
      }
      points.push({
        leafSize: build.leafSize,
        leaves,
        nprobe,
        rerank,
        recallAt10: mean(r10),
        recallAt1: mean(r1),
        meanBytes: mean(bytes),
        p95Bytes: dist(bytes).p95,
        meanRecords: mean(records),
        isDefault: nprobe === manifest.params.nprobe && rerank === manifest.params.rerank,
      });
    }
    o.log?.(`curve leaf ${build.leafSize} rerank ${rerank}: ${points.filter((p) => p.rerank === rerank && p.leafSize === build.leafSize).map((p) => `${p.nprobe}→${p.recallAt10.toFixed(3)}`).join(" ")}`);
  }
  return points;
}

export function curveCsv(rows: ReadonlyArray<Record<string, string | number | boolean | null>>): string {
  const cols = Object.keys(rows[0] ?? {});
  const cell = (v: unknown) => (typeof v === "number" ? String(Math.round(v * 10000) / 10000) : String(v ?? ""));
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}
