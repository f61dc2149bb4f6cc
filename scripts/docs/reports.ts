// Every report under docs/ is a JSON file written by a bench command and the
// Markdown rendered from it. This registry names the renderer of each, so the
// Markdown can be regenerated from the JSON (`npm run docs`) and a test can
// check that no page disagrees with the report it renders.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { markdown as benchMarkdown, latencyMarkdown } from "../bench/report.ts";
import { scaleMarkdown } from "../bench/scale-report.ts";
import { filterMarkdown } from "../bench/filters.ts";
import { hybridMarkdown } from "../bench/hybrid.ts";
import { markdown as reliabilityMarkdown } from "../reliability/report.ts";
import { fleetMarkdown } from "../bench/embed-fleet.ts";
import { hostileCostMarkdown } from "../bench/hostile-cost-report.ts";
import { buildTimeMarkdown } from "../bench/build-time.ts";

export interface ReportKind {
  /** Matches the report's base name (docs/<name>.json). */
  match: RegExp;
  /** The bench command that writes it. */
  command: string;
  render(report: never): string;
}

export const REPORT_KINDS: readonly ReportKind[] = [
  { match: /^bench-50k$/, command: "npm run bench -- --corpus FILE --json docs/bench-50k.json --md docs/bench-50k.md", render: benchMarkdown },
  { match: /^latency-/, command: "npm run bench -- --latency …", render: latencyMarkdown },
  { match: /^bench-1\.2m/, command: "npm run bench -- --scale 1200000 …", render: scaleMarkdown },
  { match: /^bench-10m$/, command: "npm run bench -- --scale 10000000 …", render: scaleMarkdown },
  { match: /^bench-filters/, command: "npm run bench -- --filters …", render: filterMarkdown },
  { match: /^bench-hybrid$/, command: "npm run bench -- --hybrid --corpus ../shared/data/abcnews-2003-50k.csv", render: hybridMarkdown },
  { match: /^reliability$/, command: "npm run loadtest", render: reliabilityMarkdown },
  { match: /^embed-fleet-bench$/, command: "npm run bench -- --embed-fleet …", render: fleetMarkdown },
  { match: /^build-10k$/, command: "npm run bench -- --build-time --corpus ../shared/data/abcnews-2003-50k.csv --json docs/build-10k.json --md docs/build-10k.md", render: buildTimeMarkdown },
  { match: /^hostile-cost$/, command: "npx tsx scripts/bench/hostile-cost.ts --embed --out docs/hostile-cost", render: hostileCostMarkdown },
];

export function reportKind(name: string): ReportKind | undefined {
  return REPORT_KINDS.find((k) => k.match.test(name));
}

/** docs/<name>.md as its renderer makes it from docs/<name>.json. */
export async function renderReport(docsDir: string, name: string): Promise<string> {
  const kind = reportKind(name);
  if (!kind) throw new Error(`docs/${name}.json has no renderer in scripts/docs/reports.ts`);
  const report = JSON.parse(await readFile(path.join(docsDir, `${name}.json`), "utf8")) as never;
  return kind.render(report);
}
