// Bundles the Worker once per test run (wrangler deploy --dry-run) and hands the
// bundle to every test file, instead of each file paying for its own build.
import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { bundleWorker, type Bundle } from "../../scripts/local/harness.ts";

declare module "vitest" {
  export interface ProvidedContext {
    workerBundle: Bundle;
  }
}

let bundle: Bundle | undefined;

export async function setup(project: TestProject): Promise<void> {
  bundle = await bundleWorker();
  project.provide("workerBundle", bundle);
}

export async function teardown(): Promise<void> {
  if (bundle) await rm(bundle.outDir, { recursive: true, force: true });
}
