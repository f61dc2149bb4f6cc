// `npm run bench -- --embed-fleet`: the build's remote embedding (scripts/builder/embedding/
// remote.ts, the code `npm run build -- --embed-url` runs) against 1, 2 and 4
// local Workers in workerd, each its own process with the real model behind
// EMBED_TOKEN. Per run: items/s, the Worker's CPU per item (the workerd
// processes' CPU time from /proc, and the model's own time from Server-Timing),
// and the build's CPU per item. From the one-instance run it estimates the time
// and Workers CPU cost of 1.2M and 10M items at N isolates (PRICING below).
// Locally every instance shares this machine's cores, so more instances than
// cores cannot add throughput: the 1 → 2 step shows scaling, 4 shows the bound.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { readCorpus } from "../builder/corpus/read-corpus.ts";
import { prepareModel } from "../builder/embedding/node-model.ts";
import { RemoteEmbedder } from "../builder/embedding/remote.ts";
import { embedBatches } from "../builder/embedding/remote-corpus.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import { bundleWorker, WRANGLER_ENV, type Bundle } from "../local/harness.ts";

/**
 * Workers Paid, Standard usage model: 10M requests a month included, then
 * $0.30 per million; 30M CPU-ms included, then $0.02 per million CPU-ms; duration
 * is not billed. Source: developers.cloudflare.com/workers/platform/pricing
 * (the Workflows pricing page states the same rates as "Workers Standard").
 */
export const PRICING = {
  plan: "Workers Paid, Standard usage model ($5/month)",
  source: "https://developers.cloudflare.com/workers/platform/pricing/",
  usdPerMillionRequests: 0.3,
  usdPerMillionCpuMs: 0.02,
  includedRequestsPerMonth: 10_000_000,
  includedCpuMsPerMonth: 30_000_000,
} as const;

export const FLEET_DEFAULTS = {
  instances: [1, 2, 4],
  items: 2000,
  /** Requests in flight per instance: one computing, one waiting, so an isolate never idles on the network. */
  perInstance: 2,
  batchSize: 32,
  estimateItems: [1_200_000, 10_000_000],
  estimateIsolates: [8, 32, 128],
};

export interface FleetRun {
  instances: number;
  concurrency: number;
  items: number;
  requests: number;
  retries: number;
  seconds: number;
  itemsPerSecond: number;
  /** CPU time of the workerd processes (user + system) per item: what a Worker would be billed for, and a bit more (the runtime's HTTP, Miniflare's entry worker). */
  workerdCpuMsPerItem: number;
  /** The model's time inside the Worker (Server-Timing `embed`, local timers advance during compute) per item. */
  embedMsPerItem: number;
  /** This process's CPU per item: sending, parsing replies (the build's side). */
  clientCpuMsPerItem: number;
}

export interface FleetEstimate {
  items: number;
  requests: number;
  cpuMs: number;
  /** Marginal: every request and CPU-ms billed (no monthly allowance left). */
  usdMarginal: number;
  /** With the month's allowance unused by anything else. */
  usdWithAllowance: number;
  /** Hours at N isolates each as fast as one local instance, and the ceiling one build process sets. */
  hoursAt: Array<{ isolates: number; hours: number; fleetHours: number; clientBound: boolean }>;
}

export interface FleetReport {
  meta: { date: string; commit: string; command: string; corpus: string; items: number; batchSize: number; machine: { cpus: number; model: string; loadAvg: number[] }; node: string; note: string };
  runs: FleetRun[];
  pricing: typeof PRICING;
  basis: { cpuMsPerItem: number; itemsPerSecondPerIsolate: number; clientItemsPerSecond: number };
  estimates: FleetEstimate[];
}

export interface FleetOptions {
  corpus: string;
  instances?: number[];
  items?: number;
  /** Requests in flight in total; default perInstance × instances. */
  concurrency?: number;
  batchSize?: number;
  log?: (s: string) => void;
}

const CLK_TCK = 100;

/** User + system CPU seconds of these processes (the workerd of each instance). */
function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // After the command: state is field 3; utime and stime are fields 14 and 15 (proc(5)).
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      throw new Error(`workerd process ${pid} is gone`);
    }
  }
  return ticks / CLK_TCK;
}

async function distinctTexts(file: string, n: number): Promise<string[]> {
  const seen = new Set<string>();
  const all: string[] = [];
  for await (const it of readCorpus(file, {}, {} as never)) {
    if (!seen.has(it.text)) all.push(it.text);
    seen.add(it.text);
  }
  if (all.length <= n) return all;
  // Spread over the file, not its first days.
  return Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]);
}

interface Instances {
  urls: string[];
  pids: number[];
  stop(): Promise<void>;
}

/** K Workers in a child process (scripts/bench/fleet-workers.ts), so this process's CPU is the build's alone. */
async function startInstances(k: number, token: string, bundle: Bundle): Promise<Instances> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "scripts", "bench", "fleet-workers.ts"), String(k), token, bundle.outDir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...WRANGLER_ENV },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`fleet-workers exited ${code} before its Workers were up`)));
  });
  const { urls, pids } = JSON.parse(line) as { urls: string[]; pids: number[] };
  if (pids.length < k) throw new Error(`expected ${k} workerd processes, found ${pids.length}`);
  return {
    urls,
    pids,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.stdin!.end();
      }),
  };
}

export async function runFleetBench(o: FleetOptions): Promise<FleetReport> {
  const log = o.log ?? (() => {});
  const instances = o.instances ?? FLEET_DEFAULTS.instances;
  const batchSize = o.batchSize ?? FLEET_DEFAULTS.batchSize;
  const texts = await distinctTexts(o.corpus, o.items ?? FLEET_DEFAULTS.items);
  const modelId = (await prepareModel()).modelId;
  const token = randomBytes(16).toString("hex");
  const runs: FleetRun[] = [];
  const bundle = await bundleWorker();
  try {
    for (const k of instances) {
      const workers = await startInstances(k, token, bundle);
      try {
        const run = await measureRun(workers, texts, { token, modelId, batchSize, concurrency: o.concurrency ?? FLEET_DEFAULTS.perInstance * k, log });
        log(`${k} instance(s), ${run.concurrency} in flight: ${run.itemsPerSecond} items/s; workerd CPU ${run.workerdCpuMsPerItem} ms/item, model ${run.embedMsPerItem} ms/item, build ${run.clientCpuMsPerItem} ms/item`);
        runs.push(run);
      } finally {
        await workers.stop();
      }
    }
  } finally {
    await rm(bundle.outDir, { recursive: true, force: true });
  }
  return {
    meta: {
      date: new Date().toISOString(),
      commit: gitCommit(),
      command: `npm run bench -- --embed-fleet ${process.argv.slice(2).filter((a) => a !== "--embed-fleet").join(" ")}`.trim(),
      corpus: path.basename(o.corpus),
      items: texts.length,
      batchSize,
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "?", loadAvg: os.loadavg().map((x) => +x.toFixed(2)) },
      node: process.version,
      note: "Timings depend on the machine and on what else runs on it; the CPU per item is steadier than items/s.",
    },
    runs,
    ...estimates(runs, batchSize),
  };
}

/**
 * The production estimate from the one-instance run. An isolate embedding is
 * CPU-bound, so its rate is taken as 1000 / CPU-ms per item: on a busy machine
 * the wall-clock items/s also counts the time spent waiting for a core.
 */
export function estimates(runs: FleetRun[], batchSize: number): Pick<FleetReport, "pricing" | "basis" | "estimates"> {
  const one = runs.find((r) => r.instances === 1) ?? runs[0];
  const basis = {
    cpuMsPerItem: one.workerdCpuMsPerItem,
    itemsPerSecondPerIsolate: +(1000 / one.workerdCpuMsPerItem).toFixed(1),
    // What one build process can send and parse per second on one core, the fleet doing the embedding.
    clientItemsPerSecond: +(1000 / one.clientCpuMsPerItem).toFixed(0),
  };
  return { pricing: PRICING, basis, estimates: FLEET_DEFAULTS.estimateItems.map((n) => estimate(n, batchSize, basis)) };
}

/** One timed pass of every text over `workers`, the models loaded first. */
async function measureRun(workers: Instances, texts: string[], o: { token: string; modelId: string; batchSize: number; concurrency: number; log: (s: string) => void }): Promise<FleetRun> {
  let retries = 0;
  const onRetry = (x: { reason: string }) => void (retries++ < 5 && o.log(`retry: ${x.reason}`));
  const remote = new RemoteEmbedder({ urls: workers.urls, token: o.token, concurrency: o.concurrency, batchSize: o.batchSize, onRetry }, o.modelId);
  // Every isolate loads its model before the clock starts.
  await Promise.all(workers.urls.map((_, i) => remote.embed(["warm up"], i)));
  const warm = remote.stats;
  const cpu0 = cpuSeconds(workers.pids);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  let got = 0;
  await embedBatches(remote, texts, texts.map((_, i) => i), { onBatch: (ids) => void (got += ids.length) });
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const cpu = cpuSeconds(workers.pids) - cpu0;
  if (got !== texts.length) throw new Error(`embedded ${got} of ${texts.length} texts`);
  const stats = remote.stats;
  const sum = (f: (s: (typeof stats)[number]) => number) => stats.reduce((a, s, i) => a + f(s) - f(warm[i]), 0);
  return {
    instances: workers.urls.length,
    concurrency: o.concurrency,
    items: texts.length,
    requests: sum((s) => s.requests),
    retries,
    seconds: +seconds.toFixed(2),
    itemsPerSecond: +(texts.length / seconds).toFixed(1),
    workerdCpuMsPerItem: +((cpu * 1000) / texts.length).toFixed(3),
    embedMsPerItem: +(sum((s) => s.embedMs) / texts.length).toFixed(3),
    clientCpuMsPerItem: +((client.user + client.system) / 1000 / texts.length).toFixed(3),
  };
}

export function estimate(items: number, batchSize: number, basis: FleetReport["basis"]): FleetEstimate {
  const requests = Math.ceil(items / batchSize);
  const cpuMs = items * basis.cpuMsPerItem;
  const usd = (req: number, ms: number) => (req / 1e6) * PRICING.usdPerMillionRequests + (ms / 1e6) * PRICING.usdPerMillionCpuMs;
  const clientHours = items / basis.clientItemsPerSecond / 3600;
  return {
    items,
    requests,
    cpuMs: Math.round(cpuMs),
    usdMarginal: +usd(requests, cpuMs).toFixed(2),
    usdWithAllowance: +usd(Math.max(0, requests - PRICING.includedRequestsPerMonth), Math.max(0, cpuMs - PRICING.includedCpuMsPerMonth)).toFixed(2),
    hoursAt: FLEET_DEFAULTS.estimateIsolates.map((n) => {
      const fleet = items / (n * basis.itemsPerSecondPerIsolate) / 3600;
      return { isolates: n, hours: +Math.max(fleet, clientHours).toFixed(2), fleetHours: +fleet.toFixed(2), clientBound: clientHours > fleet };
    }),
  };
}

export function fleetMarkdown(r: FleetReport): string {
  const rows = r.runs.map((x) => `| ${x.instances} | ${x.concurrency} | ${x.items} | ${x.seconds} | **${x.itemsPerSecond}** | ${x.workerdCpuMsPerItem} | ${x.embedMsPerItem} | ${x.clientCpuMsPerItem} | ${x.retries} |`);
  const est = r.estimates.map(
    (e) =>
      `| ${e.items.toLocaleString("en-US")} | ${e.requests.toLocaleString("en-US")} | ${(e.cpuMs / 1e6).toFixed(1)} M | $${e.usdMarginal.toFixed(2)} | $${e.usdWithAllowance.toFixed(2)} | ${e.hoursAt.map((h) => `${h.isolates}: ${h.clientBound ? `${h.fleetHours} h, build-bound ${h.hours} h` : `${h.hours} h`}`).join("; ")} |`,
  );
  return `# Embedding on the Worker fleet — measured

\`${r.meta.command}\` on ${r.meta.date} (commit ${r.meta.commit.slice(0, 10)}), ${r.meta.machine.cpus} × ${r.meta.machine.model}, Node ${r.meta.node}, load average at the end ${r.meta.machine.loadAvg.join(" / ")}.
${r.meta.items} distinct texts of ${r.meta.corpus}, ${r.meta.batchSize} per request. ${r.meta.note}

| instances | in flight | items | seconds | items/s | workerd CPU ms/item | model ms/item (Server-Timing) | build CPU ms/item | retries |
|---|---|---|---|---|---|---|---|---|
${rows.join("\n")}

Estimate basis (the one-instance run): ${r.basis.cpuMsPerItem} CPU ms/item, so ${r.basis.itemsPerSecondPerIsolate} items/s per isolate busy on a core of its own; one build process, on one core, sends and parses at most ~${r.basis.clientItemsPerSecond} items/s. Hours assume Cloudflare's cores as fast as this machine's and the platform running N isolates at once; "build-bound" means the build process, not the fleet, sets the pace. Rate limits come on top (docs/embed-fleet.md).
Pricing: ${r.pricing.plan}: $${r.pricing.usdPerMillionRequests} per million requests over ${r.pricing.includedRequestsPerMonth / 1e6}M a month, $${r.pricing.usdPerMillionCpuMs} per million CPU-ms over ${r.pricing.includedCpuMsPerMonth / 1e6}M a month (${r.pricing.source}).

| items | requests | CPU | cost, all billed | cost, month's allowance unused | hours at N isolates |
|---|---|---|---|---|---|
${est.join("\n")}
`;
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: PROJECT_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}
