// `npm run loadtest [-- --artifacts DIR] [--seconds 60] [--clients 16]`: load, deploy
// under load, faults, hostile input and memory against the Worker in local workerd.
// The command lives in scripts/commands/loadtest.ts, its parts in scripts/reliability/.
import { main } from "./commands/loadtest.ts";

process.exitCode = await main();
