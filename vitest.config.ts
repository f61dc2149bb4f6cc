import { defineConfig } from "vitest/config";

// Node-side tests only. Worker tests drive the real bundle in workerd through
// Miniflare (scripts/local/harness.ts), bundled once per run by the global setup.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    globalSetup: ["test/helpers/global-setup.ts"],
    // Worker tests start workerd and load a 14 MB model; the STS check embeds 2,758 sentences.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
