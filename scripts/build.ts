// `npm run build -- --corpus FILE [--out DIR]`: corpus → embeddings → index → KV-ready artifacts.
// The command lives in scripts/commands/build.ts, the pipeline in scripts/builder/.
import { main } from "./commands/build.ts";

process.exitCode = await main();
