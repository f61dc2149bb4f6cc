// Bundles the Worker once per test run (wrangler deploy --dry-run) and hands the
// bundle to every test file, instead of each file paying for its own build. Also
// builds (or reuses) the real index the Worker tests search, and a KV store with
// it published that each test worker copies (test/helpers/index-fixture.ts).
import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { bundleWorker, type Bundle } from "../../scripts/local/harness.ts";
import { ensureIndexFixture, type IndexFixture } from "./index-fixture.ts";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { COUNT_FILE_ENV } from "./openapi.ts";

declare module "vitest" {
  export interface ProvidedContext {
    workerBundle: Bundle;
    indexFixture: IndexFixture;
  }
}

let bundle: Bundle | undefined;
/** Each test process appends the number of Worker responses it validated against the OpenAPI document. */
const countFile = path.join(mkdtempSync(path.join(os.tmpdir(), "ess-openapi-")), "counts");
process.env[COUNT_FILE_ENV] = countFile;

/**
 * Whether this run includes a Worker test file: Node-only runs skip the index
 * fixture. Reads Vitest's CLI file filters (an internal field); when in doubt, yes.
 */
async function runsWorkerTests(project: TestProject): Promise<boolean> {
  try {
    const v = project.vitest as unknown as { filenamePattern?: string[]; globTestSpecifications(f?: string[]): Promise<Array<{ moduleId: string }>> };
    const specs = await v.globTestSpecifications(v.filenamePattern ?? []);
    return specs.length === 0 || specs.some((s) => /[\\/]worker-[^\\/]*\.test\.ts$/.test(s.moduleId));
  } catch {
    return true;
  }
}

export async function setup(project: TestProject): Promise<void> {
  const t0 = performance.now();
  const bundling = bundleWorker();
  bundling.catch(() => undefined);
  if (!(await runsWorkerTests(project))) {
    bundle = await bundling;
    project.provide("workerBundle", bundle);
    return;
  }
  const fixture = await ensureIndexFixture();
  bundle = await bundling;
  project.provide("workerBundle", bundle);
  project.provide("indexFixture", fixture);
  const s = (x: number) => `${x.toFixed(1)} s`;
  process.stderr.write(
    `[global-setup] worker bundle + index fixture ${fixture.version} (${fixture.items} items) in ${s((performance.now() - t0) / 1000)}` +
      (fixture.reused ? `, reused ${fixture.dir}\n` : `: build ${s(fixture.seconds.build)}, publish ${s(fixture.seconds.publish)}\n`),
  );
}

export async function teardown(): Promise<void> {
  let lines: string[] = [];
  try {
    lines = readFileSync(countFile, "utf8").split("\n").filter(Boolean);
  } catch {
    /* no Worker test ran */
  }
  const paths = new Set(lines).size;
  process.stderr.write(`[openapi] ${lines.length} Worker responses validated against the OpenAPI document (${paths} paths)\n`);
  await rm(path.dirname(countFile), { recursive: true, force: true });
  if (bundle) await rm(bundle.outDir, { recursive: true, force: true });
}
