// The report of scripts/bench/hostile-cost.ts (docs/hostile-cost.json) and its
// Markdown: the tokenizer CPU of the hostile inputs on the old and new request
// paths, and the model CPU of the largest legal requests.
import type { RunMeta } from "../common/run-meta.ts";

interface PathCost {
  status: string;
  cpuMs: number;
}

export interface HostileCostRow {
  input: string;
  nfkcChars: number;
  tokens: number;
  old: { single: PathCost; batch16: PathCost };
  new: { single: PathCost; batch16: PathCost };
}

export interface HostileCostReport extends RunMeta {
  what: string;
  reps: number;
  limits: { maxQueryChars: number; maxRequestTokens: number; batch: number };
  targets: { singleCpuMs: number; batch16CpuMs: number };
  worst: { singleCpuMs: number; batch16CpuMs: number };
  met: boolean;
  rows: HostileCostRow[];
  embed?: { what: string; runs: Array<{ texts: number; tokens: number; cpuMs: number }> };
}

const cell = (c: PathCost) => `${c.cpuMs} ms (${c.status})`;

export function hostileCostMarkdown(r: HostileCostReport): string {
  return [
    "# Cost of hostile input: tokenizer CPU, old and new request paths",
    "",
    `${r.what}; median of ${r.reps} runs (1 for the old path's costliest). Limits: ${r.limits.maxQueryChars} characters after NFKC, ${r.limits.maxRequestTokens} tokens per request, ${r.limits.batch} queries per batch. Command: \`npx tsx scripts/bench/hostile-cost.ts --embed --out docs/hostile-cost\`.`,
    "",
    "| Input | chars after NFKC | tokens | old: one | old: 16-query batch | new: one | new: 16-query batch |",
    "|---|---|---|---|---|---|---|",
    ...r.rows.map((x) => `| ${x.input} | ${x.nfkcChars} | ${x.tokens} | ${cell(x.old.single)} | ${cell(x.old.batch16)} | ${cell(x.new.single)} | ${cell(x.new.batch16)} |`),
    "",
    `Worst legal request, new path: ${r.worst.singleCpuMs} ms for one query, ${r.worst.batch16CpuMs} ms for a 16-query batch (targets ${r.targets.singleCpuMs} ms and ${r.targets.batch16CpuMs} ms): ${r.met ? "met" : "NOT met"}.`,
    ...(r.embed ? ["", `${r.embed.what}:`, "", ...r.embed.runs.map((e) => `- ${e.texts} texts, ${e.tokens} tokens: ${e.cpuMs} ms`)] : []),
    "",
  ].join("\n");
}
