// `npm run versions [-- --local] [--json]`: the kept versions, the live one marked.
// The command lives in scripts/commands/versions.ts.
import { main } from "./commands/versions.ts";

process.exitCode = await main(process.argv.slice(2));
