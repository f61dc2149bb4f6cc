// The index knobs as command-line flags, shared by every command that builds
// (build, deploy): their parse config and their translation into BuildOptions.
import type { BuildOptions } from "./build.ts";
import { parseFilterable } from "./packing/filter-columns.ts";
import { EMBEDDING_DIM } from "../../lib/model/embed.ts";
import { parseIntFlag, parseMarginFlag, stringFlags, UsageError } from "../common/cli.ts";

/** The index knobs, shared by every command that builds (build, deploy). */
export const BUILD_FLAGS = stringFlags(
  "text-column",
  "threads",
  "leaf-size",
  "pq-m",
  "rerank",
  "rerank-margin",
  "nprobe",
  "probe-margin",
  "probe-kb",
  "byte-budget-kb",
  "target-recall",
  "check-queries",
  "filterable",
);

export function buildOptionsFromFlags(a: { [K in keyof typeof BUILD_FLAGS]?: string }): Partial<BuildOptions> {
  const pqM = parseIntFlag("pq-m", a["pq-m"]);
  if (pqM !== undefined && EMBEDDING_DIM % pqM !== 0) throw new UsageError(`--pq-m must divide ${EMBEDDING_DIM}`);
  const targetRecall = a["target-recall"] === undefined ? undefined : Number(a["target-recall"]);
  if (targetRecall !== undefined && !(targetRecall > 0 && targetRecall <= 1)) throw new UsageError("--target-recall must be in (0, 1]");
  const probeKb = parseIntFlag("probe-kb", a["probe-kb"]);
  const budgetKb = parseIntFlag("byte-budget-kb", a["byte-budget-kb"]);
  return {
    textColumn: a["text-column"],
    threads: parseIntFlag("threads", a.threads),
    leafSize: parseIntFlag("leaf-size", a["leaf-size"], 2),
    pqM,
    rerank: parseIntFlag("rerank", a.rerank),
    rerankMargin: parseMarginFlag("rerank-margin", a["rerank-margin"]),
    nprobe: parseIntFlag("nprobe", a.nprobe),
    probeMargin: parseMarginFlag("probe-margin", a["probe-margin"]),
    maxShardBytes: probeKb === undefined ? undefined : probeKb * 1024,
    byteBudget: budgetKb === undefined ? undefined : budgetKb * 1024,
    targetRecall,
    checkQueries: parseIntFlag("check-queries", a["check-queries"]),
    filterable: parseFilterable(a.filterable),
  };
}
