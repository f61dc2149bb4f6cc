// `npm run docs`: regenerate the report pages and the figures tables from docs/*.json.
import { HELP_FLAG, runCli } from "../common/cli.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import { refreshDocs } from "../docs/refresh.ts";

const USAGE = `Usage: npm run docs

Regenerates docs/<name>.md from every docs/<name>.json (scripts/docs/reports.ts) and the
figures tables in README.md and docs/*.md (scripts/docs/figures.ts).
`;

export function main(): Promise<number> {
  return runCli(USAGE, { options: HELP_FLAG, strict: true } as const, async (_args, { out }) => {
    const changed = await refreshDocs(PROJECT_ROOT);
    out(changed.length ? `rewrote ${changed.join(", ")}` : "docs are up to date");
  });
}
