import os from "node:os";
import { defineConfig } from "vitest/config";

// Two tiers. `unit`: lib and builder logic on synthetic or fixture data, with no
// workerd and no model (test/helpers/unit-guard.ts makes either a failure), for
// `npm run test:unit`. `integration`: everything else, the Worker driven in
// workerd through Miniflare (scripts/local/harness.ts), bundled once per run by
// the global setup, and builds at scale (test/tree-search-scale.test.ts: no
// workerd, no model, but a 100k-item build is not a unit test). `npm test` runs both.
const UNIT = [
  "test/api-contract.test.ts",
  "test/artifacts-blobs.test.ts",
  "test/build-corpus.test.ts",
  "test/comments-figures.test.ts",
  "test/build-examples.test.ts",
  "test/build-format.test.ts",
  "test/build-opq.test.ts",
  "test/build-tree-search.test.ts",
  "test/deploy-remote.test.ts",
  "test/deploy-workflow.test.ts",
  "test/docs-figures.test.ts",
  "test/filter-cells.test.ts",
  "test/filter-compile.test.ts",
  "test/filter-match.test.ts",
  "test/filter-values.test.ts",
  "test/key-map.test.ts",
  "test/layout.test.ts",
  "test/lexical-format.test.ts",
  "test/lexical-fusion.test.ts",
  "test/lexical-tokenize.test.ts",
  "test/probe-depth.test.ts",
  "test/rerank-depth.test.ts",
  "test/resident-load.test.ts",
  "test/resident.test.ts",
  "test/value-cache.test.ts",
];

export default defineConfig({
  test: {
    environment: "node",
    pool: "forks",
    // Every core, where Vitest's default leaves one idle: most files wait on workerd, the
    // model or a browser in other processes, so two files at once finish the suite sooner.
    maxWorkers: os.availableParallelism(),
    // Each file's duration, slowest first, after the run.
    reporters: ["default", "./test/helpers/durations-reporter.ts"],
    // Worker tests start workerd and load a 14 MB model; the STS check embeds 2,758 sentences.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      { extends: true, test: { name: "unit", include: UNIT, setupFiles: ["test/helpers/unit-guard.ts"] } },
      { extends: true, test: { name: "integration", include: ["test/**/*.test.ts"], exclude: UNIT, globalSetup: ["test/helpers/global-setup.ts"] } },
    ],
  },
});
