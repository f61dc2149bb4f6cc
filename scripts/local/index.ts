// The local Worker toolkit in one import: bundle, run in workerd, seed KV, measure.
export {
  KV_BINDING,
  kvNamespaceId,
  compatibilityDate,
  WRANGLER_ENV,
  bundleWorker,
  sharedWorkerBundle,
  startLocalWorker,
  wranglerBin,
  wranglerVars,
  type Bundle,
  type LocalWorker,
  type StartOptions,
} from "./harness.ts";
export { blobRefFor, publishManifest, putBlobs, putModel, toArrayBuffer, type BlobBytes } from "./seed.ts";
export { DEFAULT_PERSIST_DIR, runWranglerDev, seedStore } from "./dev.ts";
export { measureWorker, type WorkerFigures } from "./measure.ts";
