// `wrangler dev` on a KV store seeded by Miniflare. Seeding goes through
// startLocalWorker (same bundle, same `<persistDir>/v3` layout), then workerd is
// shut down and wrangler dev serves the store. `npm start` can call these two.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { POINTER_KEY } from "../../lib/index/manifest.ts";
import { WRANGLER_ENV, startLocalWorker, wranglerBin, type LocalWorker } from "./harness.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import { publishManifest, putModel } from "./seed.ts";
import { prepareModel } from "../builder/embedding/node-model.ts";

export const DEFAULT_PERSIST_DIR = path.join(PROJECT_ROOT, ".wrangler", "state");

/**
 * Opens the store with Miniflare, lets `seed` write to it, and closes it again.
 * Without `seed`, publishes a model-only manifest when no index is published yet,
 * so /embed and /healthz work before the first index build.
 */
export async function seedStore(persistDir: string, seed?: (kv: LocalWorker["kv"]) => Promise<void>): Promise<void> {
  const w = await startLocalWorker({ persistDir });
  try {
    if (seed) await seed(w.kv);
    else if ((await w.kv.get(POINTER_KEY)) === null) {
      const model = await putModel(w.kv, await prepareModel());
      await publishManifest(w.kv, { version: "model-only", model, items: 0 });
    }
  } finally {
    await w.dispose();
  }
}

/** Starts `wrangler dev` on the store; resolves once it listens. Kill the child to stop. */
export function runWranglerDev(opts: { persistDir: string; port?: number; vars?: Record<string, string> }): Promise<ChildProcess> {
  const port = opts.port ?? 8787;
  const args = ["dev", "--persist-to", opts.persistDir, "--ip", "127.0.0.1", "--port", String(port)];
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child = spawn(wranglerBin(), args, { cwd: PROJECT_ROOT, env: { ...process.env, ...WRANGLER_ENV }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    const onData = (d: Buffer) => {
      process.stdout.write(d);
      log += d;
      if (/Ready on http/.test(log)) resolve(child);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`wrangler dev exited ${code} before it was ready`)));
  });
}
