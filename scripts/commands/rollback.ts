// `npm run rollback [-- --to VERSION] [--local]`: one pointer write back to a
// kept version (default: the one live before the current one). The version's
// manifest and values are checked to be complete in KV first.
import { LockError } from "../deploy/lock.ts";
import { rollback, RollbackError } from "../deploy/rollback.ts";
import { runKvCommand } from "../deploy/target.ts";
import type { CliIo } from "../common/cli.ts";
import type { KvWriter } from "../deploy/publish.ts";

const USAGE = `Usage: npm run rollback [-- --to VERSION] [--local] [--persist-to DIR]

Switches the live index back to a kept version (see npm run versions) with one
pointer write. Without --to: the version that was live before the current one.
VERSION may be a unique prefix.
`;

export function main(argv: string[], io: CliIo & { kv?: KvWriter } = {}): Promise<number> {
  return runKvCommand(USAGE, { to: { type: "string" } }, argv, io, async (kv, a, { out }) => void (await rollback(kv, a.to, out)), { expected: [RollbackError, LockError] });
}
