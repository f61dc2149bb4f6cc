// The unit tier's promise, enforced: a unit test that reaches for workerd or the
// model fails at once instead of quietly making `npm run test:unit` slow.
import { vi } from "vitest";

function refuse(what: string): never {
  throw new Error(`${what} is not available in the unit tier: move this test file out of vitest.config.ts's UNIT list`);
}

vi.mock("../../scripts/local/harness.ts", async (original) => ({
  ...(await original<object>()),
  bundleWorker: () => refuse("workerd (bundleWorker)"),
  sharedWorkerBundle: () => refuse("workerd (sharedWorkerBundle)"),
  testWorkerBundle: () => refuse("workerd (testWorkerBundle)"),
  startLocalWorker: () => refuse("workerd (startLocalWorker)"),
}));

vi.mock("../../scripts/builder/embedding/node-model.ts", async (original) => ({
  ...(await original<object>()),
  prepareModel: () => refuse("the model (prepareModel)"),
  createNodeEmbedder: () => refuse("the model (createNodeEmbedder)"),
}));
