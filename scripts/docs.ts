// `npm run docs`: see scripts/commands/docs.ts.
import { main } from "./commands/docs.ts";

process.exitCode = await main();
