// Where the project's own files are, from any script: one definition, so a
// moved module cannot silently point at the wrong root.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the folder holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Where `npm run build` writes by default. */
export const DEFAULT_OUT = path.join(PROJECT_ROOT, "index-artifacts");
/** The embedding cache's default folder. */
export const DEFAULT_CACHE = path.join(PROJECT_ROOT, ".cache", "embeddings");
