// `npm run bench -- --corpus FILE [--json OUT] [--md OUT] [--scale N | --filters | --latency]`
// The command lives in scripts/commands/bench.ts, the benches in scripts/bench/.
import { main } from "./commands/bench.ts";

process.exitCode = await main();
