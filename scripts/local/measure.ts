// Worker figures on this machine: bundle size, cold start (first /embed after
// workerd starts, model load included), warm single-query /embed latency, and
// workerd RSS (a proxy for isolate memory: it also counts workerd itself and
// Miniflare's helper services, so compare against the pre-load baseline).
// Usage: npx tsx scripts/local/measure.ts [warmRequests=200]
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startLocalWorker, sharedWorkerBundle } from "./harness.ts";
import { publishManifest, putModel } from "./seed.ts";
import { prepareModel } from "../embed/node-model.ts";

export interface WorkerFigures {
  bundleBytes: number;
  bundleGzipBytes: number;
  coldEmbedMs: number;
  modelLoadMs: number;
  warmEmbedP50Ms: number;
  warmEmbedP95Ms: number;
  rssIdleMiB: number;
  rssAfterLoadMiB: number;
  rssAfterWarmMiB: number;
  jsHeapIdleMiB: number;
  jsHeapAfterLoadMiB: number;
  jsHeapAfterWarmMiB: number;
  wasmHeapMiB: number;
  tensorMiB: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export async function measureWorker(warmRequests = 200): Promise<WorkerFigures> {
  const bundle = await sharedWorkerBundle();
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-measure-"));
  const w = await startLocalWorker({ persistDir, bundle, inspect: true });
  try {
    const model = await putModel(w.kv, await prepareModel());
    await publishManifest(w.kv, { version: "measure", model, items: 0 });
    const rssIdle = w.workerdRssBytes();
    const heapIdle = await w.isolateHeap();
    const post = (texts: string[]) => w.fetch("/embed", { method: "POST", body: JSON.stringify({ texts }) });

    let t = performance.now();
    const cold = await post(["how cold is the first request?"]);
    if (cold.status !== 200) throw new Error(`cold /embed answered ${cold.status}: ${await cold.text()}`);
    await cold.arrayBuffer();
    const coldEmbedMs = performance.now() - t;
    const health = (await (await w.fetch("/healthz")).json()) as {
      model_load_ms: number;
      memory: { wasm_heap_bytes: number; tensor_bytes: number };
    };
    const rssAfterLoad = w.workerdRssBytes();
    const heapAfterLoad = await w.isolateHeap();

    const times: number[] = [];
    for (let i = 0; i < warmRequests; i++) {
      t = performance.now();
      const res = await post([`warm query number ${i} about the weather in spring`]);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`warm /embed answered ${res.status}`);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const heapAfterWarm = await w.isolateHeap();
    return {
      bundleBytes: bundle.bytes,
      bundleGzipBytes: bundle.gzipBytes,
      coldEmbedMs,
      modelLoadMs: health.model_load_ms,
      warmEmbedP50Ms: pct(times, 0.5),
      warmEmbedP95Ms: pct(times, 0.95),
      rssIdleMiB: rssIdle / 2 ** 20,
      rssAfterLoadMiB: rssAfterLoad / 2 ** 20,
      rssAfterWarmMiB: w.workerdRssBytes() / 2 ** 20,
      jsHeapIdleMiB: heapIdle.usedBytes / 2 ** 20,
      jsHeapAfterLoadMiB: heapAfterLoad.usedBytes / 2 ** 20,
      jsHeapAfterWarmMiB: heapAfterWarm.usedBytes / 2 ** 20,
      wasmHeapMiB: health.memory.wasm_heap_bytes / 2 ** 20,
      tensorMiB: health.memory.tensor_bytes / 2 ** 20,
    };
  } finally {
    await w.dispose();
    await rm(persistDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measureWorker(Number(process.argv[2] ?? 200));
  console.log(JSON.stringify(figures, (_k, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v), 2));
}
