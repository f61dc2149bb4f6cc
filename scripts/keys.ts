// `npm run keys -- <create|rotate|revoke|list>`: API keys (hashed) for the Worker's
// API_KEYS secret. The command lives in scripts/commands/keys.ts.
import { main } from "./commands/keys.ts";

process.exitCode = await main(process.argv.slice(2));
