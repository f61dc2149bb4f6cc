// A KV namespace that can be told to fail: the Worker's INDEX becomes an RPC
// service (same methods, same local store) that throws, like a KV outage or an
// exceeded quota, or answers late, for every key starting with one of the given prefixes.
// Used with startLocalWorker's `rewire` seam (tests, npm run loadtest); the Worker's own code is unchanged.
import type { MiniflareOptions, WorkerOptions } from "miniflare";
import type { LocalWorker } from "./harness.ts";
import { KV_BINDING, kvNamespaceId } from "./harness.ts";

export const FAULT_WORKER = "kv-faults";

const SCRIPT = `
import { WorkerEntrypoint } from "cloudflare:workers";
let fault = { prefixes: [], delayMs: 0 };
async function check(key) {
  const keys = Array.isArray(key) ? key : [key];
  const hit = keys.find((k) => fault.prefixes.some((p) => k.startsWith(p)));
  if (hit === undefined) return;
  if (fault.delayMs > 0) return new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  throw new Error("KV GET failed: 429 Too Many Requests (injected fault on " + hit + ")");
}
export class FaultyKv extends WorkerEntrypoint {
  async get(key, type) { await check(key); return this.env.${KV_BINDING}.get(key, type); }
  async getWithMetadata(key, type) { await check(key); return this.env.${KV_BINDING}.getWithMetadata(key, type); }
  async put(key, value, options) { return this.env.${KV_BINDING}.put(key, value, options); }
  async delete(key) { return this.env.${KV_BINDING}.delete(key); }
  async list(options) { return this.env.${KV_BINDING}.list(options); }
}
export default {
  async fetch(request) {
    fault = await request.json();
    return new Response(JSON.stringify(fault));
  },
};`;

/** Moves the flat single-worker options into a main worker whose INDEX is the faulty service. */
export function faultyKvOptions(flat: MiniflareOptions): MiniflareOptions {
  const f = flat as WorkerOptions & Record<string, unknown>;
  const { modules, scriptPath, modulesRoot, modulesRules, compatibilityDate, compatibilityFlags, kvNamespaces, bindings, ratelimits, ...shared } = f;
  void kvNamespaces;
  const main = { name: "worker", modules, scriptPath, modulesRoot, modulesRules, compatibilityDate, compatibilityFlags, bindings, ratelimits } as WorkerOptions;
  main.serviceBindings = { [KV_BINDING]: { name: FAULT_WORKER, entrypoint: "FaultyKv" } };
  const faults: WorkerOptions = { name: FAULT_WORKER, modules: true, script: SCRIPT, compatibilityDate, kvNamespaces: { [KV_BINDING]: kvNamespaceId() } };
  return { ...shared, workers: [main, faults] } as MiniflareOptions;
}

export const faultyKv = { options: faultyKvOptions, kvWorker: FAULT_WORKER };

/**
 * From now on, KV reads of keys starting with any of `prefixes` throw, or with
 * `delayMs` answer that much later ([] heals, [""] hits everything).
 */
export async function injectKvFault(worker: LocalWorker, prefixes: string[], opts: { delayMs?: number } = {}): Promise<void> {
  const service = await worker.miniflare.getWorker(FAULT_WORKER);
  const res = await service.fetch("http://kv-faults/", { method: "POST", body: JSON.stringify({ prefixes, delayMs: opts.delayMs ?? 0 }) });
  if (!res.ok) throw new Error(`kv-faults control answered ${res.status}`);
  await res.text();
}
