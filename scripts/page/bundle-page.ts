// `tsx scripts/page/bundle-page.ts`: regenerates functions/page/generated/assets.js
// (the page's bundled script and its CSP hashes). wrangler.toml's [build] command.
import path from "node:path";
import { PROJECT_ROOT } from "../common/paths.ts";
import { writePageAssets } from "./assets.ts";

const { file, assets, changed } = await writePageAssets();
process.stderr.write(`[page] ${path.relative(PROJECT_ROOT, file)} ${changed ? "written" : "unchanged"}: script ${Buffer.byteLength(assets.js)} bytes, sha256-${assets.jsSha256}\n`);
