// `npm run rollback [-- --to VERSION] [--local]`: one pointer write back to a kept
// version. The command lives in scripts/commands/rollback.ts.
import { main } from "./commands/rollback.ts";

process.exitCode = await main(process.argv.slice(2));
