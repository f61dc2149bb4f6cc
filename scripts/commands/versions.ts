// `npm run versions [-- --local] [--json]`: the kept versions, live one marked,
// with build and switch dates, item counts and recall@10 self-check figures.
import { formatVersions, listVersions } from "../deploy/versions.ts";
import { runKvCommand } from "../deploy/target.ts";
import type { CliIo } from "../common/cli.ts";
import type { KvWriter } from "../deploy/publish.ts";

const USAGE = "Usage: npm run versions [-- --local] [--persist-to DIR] [--json]\n";

export function main(argv: string[], io: CliIo & { kv?: KvWriter } = {}): Promise<number> {
  return runKvCommand(
    USAGE,
    { json: { type: "boolean" } },
    argv,
    io,
    async (kv, a, { out }) => {
      const r = await listVersions(kv);
      out(a.json ? JSON.stringify(r) : formatVersions(r));
    },
    { label: (a) => !a.json },
  );
}
