// Builds for the bench, cached: an artifacts directory per (corpus bytes, build
// options, the sources that shape an index). A second bench run on the same
// tree reuses the build, report.json included (so the build figures are those
// of the run that actually built it); embeddings are cached separately by the
// build itself (.cache/embeddings), so a leaf-size variant never re-embeds.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Manifest } from "../../lib/index/manifest.ts";
import { readManifest } from "../artifacts/dir.ts";
import { runBuild, type BuildOptions, type BuildReport } from "../builder/build.ts";
import { sourceHash } from "../builder/source-hash.ts";
import { PROJECT_ROOT } from "../common/paths.ts";

export const BENCH_CACHE = path.join(PROJECT_ROOT, ".cache", "bench");

export interface CachedBuild {
  dir: string;
  manifest: Manifest;
  report: BuildReport;
  reused: boolean;
  key: string;
}

export type BenchBuildOptions = Pick<BuildOptions, "leafSize" | "pqM" | "rerank" | "nprobe" | "textColumn" | "threads" | "cacheDir">;

export async function cachedBuild(corpus: string, opts: BenchBuildOptions, o: { cacheRoot?: string; quiet?: boolean } = {}): Promise<CachedBuild> {
  const root = o.cacheRoot ?? BENCH_CACHE;
  const { threads: _t, cacheDir: _c, ...shaping } = opts;
  const key = createHash("sha256")
    .update(await readFile(corpus))
    .update(JSON.stringify(shaping, Object.keys(shaping).sort()))
    .update(await sourceHash())
    .digest("hex")
    .slice(0, 16);
  const final = path.join(root, `build-${key}`);
  const reused = existsSync(path.join(final, "ready"));
  if (!reused) {
    await mkdir(root, { recursive: true });
    const work = await mkdtemp(path.join(root, `tmp-${key}-`));
    try {
      await runBuild({ corpus, out: path.join(work, "artifacts"), quiet: o.quiet, ...opts });
      await writeFile(path.join(work, "ready"), new Date().toISOString());
      await rm(final, { recursive: true, force: true });
      await rename(work, final);
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
  }
  const dir = path.join(final, "artifacts");
  const manifest = await readManifest(dir);
  const report = JSON.parse(await readFile(path.join(dir, "report.json"), "utf8")) as BuildReport;
  return { dir, manifest, report, reused, key };
}
