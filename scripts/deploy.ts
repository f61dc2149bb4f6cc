// `npm run deploy -- --corpus FILE [--local] [--dry-run] [--force] …`: build, gate,
// upload what KV lacks, switch with one write. The command lives in
// scripts/commands/deploy.ts, the steps in scripts/deploy/. See docs/deploy.md.
import { main } from "./commands/deploy.ts";

process.env.WRANGLER_SEND_METRICS ??= "false";
process.exitCode = await main(process.argv.slice(2));
