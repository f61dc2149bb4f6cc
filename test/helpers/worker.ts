// Worker fixtures for Node-side tests: a workerd instance with its own temporary
// KV store, optionally seeded with the real float16 model and a manifest.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { startLocalWorker, type LocalWorker } from "../../scripts/local/harness.ts";
import { publishManifest, putModel } from "../../scripts/local/seed.ts";
import { prepareModel } from "../../scripts/embed/node-model.ts";
import type { ModelRef } from "../../lib/index/manifest.ts";

export interface TestWorker extends LocalWorker {
  persistDir: string;
  /** Set when seeded with the model. */
  model?: ModelRef;
  json(pathOrUrl: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any }>;
}

export async function startTestWorker(
  opts: { vars?: Record<string, string>; seedModel?: boolean; version?: string; manifestExtra?: Record<string, unknown> } = {},
): Promise<TestWorker> {
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-test-"));
  const worker = await startLocalWorker({ persistDir, vars: opts.vars, bundle: inject("workerBundle") });
  let model: ModelRef | undefined;
  if (opts.seedModel) {
    model = await putModel(worker.kv, await prepareModel());
    await publishManifest(worker.kv, { version: opts.version ?? "v1", model, items: 0, ...(opts.manifestExtra ?? {}) });
  }
  return {
    ...worker,
    persistDir,
    model,
    async json(p, init) {
      const res = await worker.fetch(p, init);
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, headers: res.headers, body };
    },
    async dispose() {
      await worker.dispose();
      await rm(persistDir, { recursive: true, force: true });
    },
  };
}

export function post(body: unknown): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) };
}
