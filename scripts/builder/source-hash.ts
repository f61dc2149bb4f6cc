// The sources whose change can change a built index (index code, model glue,
// corpus reader, embedder, build), hashed: cached builds are keyed by it so a
// code change rebuilds and an unchanged tree reuses.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../common/paths.ts";


const SOURCE_DIRS = [
  "lib/index",
  "lib/model",
  "scripts/builder",
  "scripts/builder/check",
  "scripts/builder/corpus",
  "scripts/builder/embedding",
  "scripts/builder/packing",
  "scripts/builder/pools",
  "scripts/builder/training",
];
// Of the lexical code, what the build runs (query-time search and fusion shape no index).
const SOURCE_FILES = ["scripts/artifacts/dir.ts", "package-lock.json", "lib/lexical/tokenize.ts", "lib/lexical/bm25.ts"];

/** sha256 (hex) over the index-shaping sources plus `extraFiles` (paths relative to the project root). */
export async function sourceHash(extraFiles: readonly string[] = []): Promise<string> {
  const h = createHash("sha256");
  const files = [...SOURCE_FILES, ...extraFiles];
  for (const d of SOURCE_DIRS) for (const f of (await readdir(path.join(PROJECT_ROOT, d))).sort()) if (f.endsWith(".ts")) files.push(path.join(d, f));
  for (const f of files) {
    h.update(f);
    h.update(await readFile(path.join(PROJECT_ROOT, f)));
  }
  return h.digest("hex");
}
