// Worker figures on this machine: bundle size, cold start (first /embed after
// workerd starts, model load included, with the load's phase breakdown as the
// Worker logs it), warm single-query /embed latency end to end and as the Worker
// itself timed the embedding (Server-Timing), and memory: isolate = JS heap
// after a forced GC + the wasm heap; workerd RSS is only a proxy (it also counts
// workerd itself and Miniflare's helper services).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startLocalWorker, sharedWorkerBundle } from "./harness.ts";
import { publishManifest, putModel } from "./seed.ts";
import { prepareModel } from "../builder/embedding/node-model.ts";
import { percentile } from "../bench/stats.ts";

export interface WorkerFigures {
  bundleBytes: number;
  bundleGzipBytes: number;
  coldEmbedMs: number;
  modelLoadMs: number;
  modelLoadPhasesMs: Record<string, number>;
  /** End to end over loopback HTTP, 512 floats of JSON included. */
  warmEmbedP50Ms: number;
  warmEmbedP95Ms: number;
  /** The same, second half of the run only (V8 has tiered up tfjs's JS and wasm by then). */
  warmEmbedLateP50Ms: number;
  /** Embedding alone, as the Worker timed it (Server-Timing `embed`). */
  warmServerEmbedP50Ms: number;
  warmServerEmbedP95Ms: number;
  /** End to end minus the Worker's own `total`: HTTP, routing, JSON of the vector. */
  warmOverheadP50Ms: number;
  rssIdleMiB: number;
  rssAfterLoadMiB: number;
  rssAfterWarmMiB: number;
  jsHeapIdleMiB: number;
  jsHeapAfterLoadMiB: number;
  jsHeapAfterWarmMiB: number;
  /** After a forced full GC: live JS objects only. */
  jsHeapAfterWarmGcMiB: number;
  wasmHeapMiB: number;
  /** ArrayBuffer backing stores after the GC, outside the JS heap figure. */
  arrayBuffersAfterWarmGcMiB: number;
  /** jsHeapAfterWarmGcMiB + arrayBuffersAfterWarmGcMiB + wasmHeapMiB: what the isolate keeps in steady state. */
  isolateSteadyMiB: number;
  tensorMiB: number;
}

/** `ready;dur=1.0, embed;dur=9.5` -> { ready: 1, embed: 9.5 } */
function serverTiming(header: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of header.matchAll(/([\w-]+);dur=([\d.]+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

type Post = (texts: string[]) => Promise<Response>;

/** The first /embed of a fresh isolate, model load included, end to end in ms. */
async function coldEmbed(post: Post): Promise<number> {
  const t = performance.now();
  const cold = await post(["how cold is the first request?"]);
  if (cold.status !== 200) throw new Error(`cold /embed answered ${cold.status}: ${await cold.text()}`);
  await cold.arrayBuffer();
  return performance.now() - t;
}

/** `n` single-text /embeds, one at a time; each series sorted ascending. */
async function warmEmbeds(post: Post, n: number): Promise<{ times: number[]; late: number[]; serverEmbed: number[]; overhead: number[] }> {
  const times: number[] = [];
  const serverEmbed: number[] = [];
  const overhead: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await post([`warm query number ${i} about the weather in spring`]);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`warm /embed answered ${res.status}`);
    const e2e = performance.now() - t;
    times.push(e2e);
    const timing = serverTiming(res.headers.get("server-timing") ?? "");
    serverEmbed.push(timing.embed ?? NaN);
    overhead.push(e2e - (timing.total ?? NaN));
  }
  const asc = (xs: number[]) => xs.sort((a, b) => a - b);
  return { late: asc(times.slice(times.length >> 1)), times: asc(times), serverEmbed: asc(serverEmbed), overhead: asc(overhead) };
}

export async function measureWorker(warmRequests = 200): Promise<WorkerFigures> {
  const bundle = await sharedWorkerBundle();
  const persistDir = await mkdtemp(path.join(os.tmpdir(), "ess-measure-"));
  let phases: Record<string, number> = {};
  const w = await startLocalWorker({
    persistDir,
    bundle,
    inspect: true,
    onLog: (line) => {
      const m = /model \S+ loaded in \d+ ms: (\{.*\})/.exec(line);
      if (m) phases = JSON.parse(m[1]) as Record<string, number>;
    },
  });
  try {
    const model = await putModel(w.kv, await prepareModel());
    await publishManifest(w.kv, { version: "measure", model, items: 0 });
    const rssIdle = w.workerdRssBytes();
    const heapIdle = await w.isolateHeap();
    const post = (texts: string[]) => w.fetch("/v1/embed", { method: "POST", body: JSON.stringify({ texts }) });

    const coldEmbedMs = await coldEmbed(post);
    const health = (await (await w.fetch("/v1/healthz")).json()) as {
      model_load_ms: number;
      memory: { wasm_heap_bytes: number; tensor_bytes: number };
    };
    const rssAfterLoad = w.workerdRssBytes();
    const heapAfterLoad = await w.isolateHeap();

    const { times, late, serverEmbed, overhead } = await warmEmbeds(post, warmRequests);
    const heapAfterWarm = await w.isolateHeap();
    const heapAfterWarmGc = await w.isolateHeap({ gc: true });
    return {
      bundleBytes: bundle.bytes,
      bundleGzipBytes: bundle.gzipBytes,
      coldEmbedMs,
      modelLoadMs: health.model_load_ms,
      modelLoadPhasesMs: phases,
      warmEmbedP50Ms: percentile(times, 0.5),
      warmEmbedP95Ms: percentile(times, 0.95),
      warmEmbedLateP50Ms: percentile(late, 0.5),
      warmServerEmbedP50Ms: percentile(serverEmbed, 0.5),
      warmServerEmbedP95Ms: percentile(serverEmbed, 0.95),
      warmOverheadP50Ms: percentile(overhead, 0.5),
      rssIdleMiB: rssIdle / 2 ** 20,
      rssAfterLoadMiB: rssAfterLoad / 2 ** 20,
      rssAfterWarmMiB: w.workerdRssBytes() / 2 ** 20,
      jsHeapIdleMiB: heapIdle.usedBytes / 2 ** 20,
      jsHeapAfterLoadMiB: heapAfterLoad.usedBytes / 2 ** 20,
      jsHeapAfterWarmMiB: heapAfterWarm.usedBytes / 2 ** 20,
      jsHeapAfterWarmGcMiB: heapAfterWarmGc.usedBytes / 2 ** 20,
      wasmHeapMiB: health.memory.wasm_heap_bytes / 2 ** 20,
      arrayBuffersAfterWarmGcMiB: heapAfterWarmGc.arrayBufferBytes / 2 ** 20,
      isolateSteadyMiB: (heapAfterWarmGc.usedBytes + heapAfterWarmGc.arrayBufferBytes + health.memory.wasm_heap_bytes) / 2 ** 20,
      tensorMiB: health.memory.tensor_bytes / 2 ** 20,
    };
  } finally {
    await w.dispose();
    await rm(persistDir, { recursive: true, force: true });
  }
}
