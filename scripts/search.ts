// `npm run search -- [--artifacts DIR] [--k 10] [--exact] [--json] (QUERY... | --queries-file FILE)`
// The command lives in scripts/commands/search.ts.
import { main } from "./commands/search.ts";

process.exitCode = await main();
