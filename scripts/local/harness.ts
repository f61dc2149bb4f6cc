// Runs the Worker locally exactly as it deploys: wrangler bundles it
// (`deploy --dry-run`), Miniflare runs that bundle in workerd. KV persists under
// `<persistDir>/v3`, the layout `wrangler dev --persist-to <persistDir>` reads, so
// a store seeded here is served unchanged by `wrangler dev`.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { createServer } from "node:net";
import type { Readable } from "node:stream";
import { createRequire } from "node:module";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { kvBinding, wranglerConfig } from "../common/wrangler-config.ts";
import type { KVNamespace as MfKVNamespace } from "@cloudflare/workers-types";
import { PROJECT_ROOT } from "../common/paths.ts";

export const KV_BINDING = "INDEX";
/**
 * The namespace id wrangler dev keys its local store by: the binding's
 * `preview_id`, else its `id` (dev uses preview ids first), else the binding
 * name. Seeding with the same id keeps `npm start` and `wrangler dev` on one store.
 */
export function kvNamespaceId(): string {
  const b = kvBinding(KV_BINDING);
  return b?.preview_id ?? b?.id ?? KV_BINDING;
}
/** The compatibility date wrangler.toml declares, so local runs match deploys. */
export function compatibilityDate(): string {
  const date = wranglerConfig().compatibilityDate;
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return date;
}

/** Env for every wrangler we spawn: no telemetry, no network look-ups. */
export const WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } as const;

export interface Bundle {
  outDir: string;
  entry: string;
  /** Uploaded bytes (JS + wasm, no source maps) and their gzip size, as wrangler reports them. */
  bytes: number;
  gzipBytes: number;
  files: Array<{ name: string; bytes: number }>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out}`))));
  });
}

export function wranglerBin(): string {
  return path.join(PROJECT_ROOT, "node_modules", ".bin", "wrangler");
}

/**
 * The test-only Worker entry (functions/test-entry.ts): the deployed routes plus
 * exact search, for benchmarks. Never what `wrangler deploy` ships.
 */
export const TEST_ENTRY = "functions/test-entry.ts";

/**
 * Bundles the Worker the way `wrangler deploy` would, into `outDir` (a temp dir
 * by default); `entry` replaces wrangler.toml's `main` (TEST_ENTRY for benchmarks).
 */
export async function bundleWorker(outDir?: string, entry?: string): Promise<Bundle> {
  const dir = outDir ?? (await mkdtemp(path.join(os.tmpdir(), "ess-bundle-")));
  await run(wranglerBin(), ["deploy", ...(entry ? [entry] : []), "--dry-run", "--outdir", dir], WRANGLER_ENV);
  const files: Bundle["files"] = [];
  let bytes = 0;
  let gzipBytes = 0;
  for (const name of await readdir(dir)) {
    if (!/\.(m?js|wasm)$/.test(name)) continue;
    const data = await readFile(path.join(dir, name));
    files.push({ name, bytes: data.byteLength });
    bytes += data.byteLength;
    gzipBytes += gzipSync(data).byteLength;
  }
  // wrangler names the output after the entry (worker.js, test-entry.js).
  const main = path.join(dir, `${path.basename(entry ?? "worker.ts").replace(/\.ts$/, "")}.js`);
  await stat(main);
  return { outDir: dir, entry: main, bytes, gzipBytes, files };
}

let sharedBundle: Promise<Bundle> | undefined;
/** One bundle per process: tests and benchmarks start many Workers from it. */
export function sharedWorkerBundle(): Promise<Bundle> {
  sharedBundle ??= bundleWorker().catch((err) => {
    sharedBundle = undefined;
    throw err;
  });
  return sharedBundle;
}

let testBundle: Promise<Bundle> | undefined;
/** One bundle of TEST_ENTRY per process. */
export function testWorkerBundle(): Promise<Bundle> {
  testBundle ??= bundleWorker(undefined, TEST_ENTRY).catch((err) => {
    testBundle = undefined;
    throw err;
  });
  return testBundle;
}

/** The vars declared in wrangler.toml, so local runs default to deployed settings. */
export function wranglerVars(): Record<string, string> {
  return { ...wranglerConfig().vars };
}

export type Ratelimits = Record<string, { simple: { limit: number; period: 10 | 60 } }>;

/** The [[ratelimits]] bindings of wrangler.toml, as Miniflare options. */
export function wranglerRatelimits(): Ratelimits {
  return Object.fromEntries(wranglerConfig().ratelimits.map((r) => [r.name, { simple: { limit: r.simple.limit, period: r.simple.period as 10 | 60 } }]));
}

export interface LocalWorker {
  /** Base URL of the local HTTP listener (a real socket: usable by fetch, curl, browsers). */
  url: URL;
  /** fetch() against the Worker over HTTP; `pathOrUrl` may be relative, e.g. "/search?q=x". */
  fetch(pathOrUrl: string, init?: RequestInit): Promise<Response>;
  /** Miniflare's in-process dispatch (skips the socket). */
  dispatchFetch: Miniflare["dispatchFetch"];
  /** The Worker's `INDEX` namespace. Put ArrayBuffer/string values, not Node Buffers. */
  kv: MfKVNamespace;
  miniflare: Miniflare;
  bundle: Bundle;
  /** Resident memory of the workerd process(es) serving this Worker, from /proc; a proxy for isolate memory. */
  workerdRssBytes(): number;
  /**
   * V8 heap of the Worker's isolate via the workerd inspector (`Runtime.getHeapUsage`),
   * and apart from it the backing stores of its ArrayBuffers (decoded routing, shards,
   * record vectors), which the heap figure leaves out but the isolate's memory holds.
   * Needs `inspect: true`. Excludes WebAssembly memory, which /healthz reports.
   * With `{ gc: true }` a full GC runs first, so the figure is live memory, not garbage.
   */
  isolateHeap(opts?: { gc?: boolean }): Promise<IsolateHeap>;
  dispose(): Promise<void>;
}

export interface IsolateHeap {
  usedBytes: number;
  totalBytes: number;
  /** ArrayBuffer backing stores (`backingStorageSize`; 0 where the inspector does not report it). */
  arrayBufferBytes: number;
}

/** The vars of a local Worker without rate-limit bindings (StartOptions.ratelimits). */
const UNLIMITED_VARS = { RATE_LIMITS: "off", EMBED_PUBLIC: "on", PUBLIC_DIAGNOSTICS: "on" };

export interface StartOptions {
  /** KV lives in `<persistDir>/v3/kv`, shared with `wrangler dev --persist-to <persistDir>`. */
  persistDir: string;
  /** Overrides for wrangler.toml [vars]. */
  vars?: Record<string, string>;
  /** Reuse a bundle (default: one per process). */
  bundle?: Bundle;
  port?: number;
  host?: string;
  /** Open the workerd inspector so `isolateHeap()` works. */
  inspect?: boolean;
  /** Receives each line the Worker logs (console.*); by default Miniflare prints them. */
  onLog?: (line: string) => void;
  /**
   * Rate Limiting bindings, e.g. wranglerRatelimits() for the deployed ones. None by
   * default: tests and benchmarks send many requests from one local address. Without
   * them the Worker also runs with RATE_LIMITS = "off" (a deployment missing a
   * binding refuses to serve), EMBED_PUBLIC = "on" (benches embed without a key)
   * and PUBLIC_DIAGNOSTICS = "on" (tests and benches read /healthz's internals);
   * `vars` may override them. With them it runs as deployed.
   */
  ratelimits?: Ratelimits;
  /**
   * Test seam: rewrites the Miniflare options (e.g. INDEX behind a fault-injecting
   * service, scripts/local/faulty-kv.ts); `kvWorker` names the worker that owns the namespace.
   */
  rewire?: { options(flat: MiniflareOptions): MiniflareOptions; kvWorker: string };
}

export async function startLocalWorker(opts: StartOptions): Promise<LocalWorker> {
  const bundle = opts.bundle ?? (await sharedWorkerBundle());
  const knownPids = new Set(workerdPids());
  const inspectorPort = opts.inspect ? await freePort() : undefined;
  const flat: MiniflareOptions = {
    modules: true,
    scriptPath: bundle.entry,
    modulesRoot: bundle.outDir,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: compatibilityDate(),
    compatibilityFlags: [],
    kvNamespaces: { [KV_BINDING]: kvNamespaceId() },
    defaultPersistRoot: path.join(opts.persistDir, "v3"),
    bindings: { ...wranglerVars(), ...(opts.ratelimits ? {} : UNLIMITED_VARS), ...(opts.vars ?? {}) },
    ratelimits: opts.ratelimits ?? {},
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 0,
    ...(inspectorPort ? { inspectorPort } : {}),
    ...(opts.onLog ? { handleRuntimeStdio: (stdout: Readable, stderr: Readable) => forwardLines([stdout, stderr], opts.onLog!) } : {}),
  };
  const mf = new Miniflare(opts.rewire ? opts.rewire.options(flat) : flat);
  const url = await mf.ready;
  const kv = (await mf.getKVNamespace(KV_BINDING, opts.rewire?.kvWorker)) as unknown as MfKVNamespace;
  const mine = workerdPids().filter((p) => !knownPids.has(p));
  return {
    url,
    fetch: async (p, init) => {
      try {
        return await fetch(new URL(p, url), init);
      } catch (e) {
        // workerd may close a kept-alive connection as the client reuses it, or
        // reset it (both seen right after a request that waited for a model load,
        // the reset on a loaded machine): the request got no answer at all, so it
        // goes once more, on a new connection.
        const code = (e as { cause?: { code?: string } }).cause?.code;
        if ((code !== "UND_ERR_SOCKET" && code !== "ECONNRESET") || init?.body instanceof ReadableStream) throw e;
        return fetch(new URL(p, url), init);
      }
    },
    dispatchFetch: mf.dispatchFetch.bind(mf),
    kv,
    miniflare: mf,
    bundle,
    workerdRssBytes: () => mine.reduce((sum, pid) => sum + rssBytes(pid), 0),
    isolateHeap: (o) => {
      if (!inspectorPort) throw new Error("start the worker with { inspect: true } to read its heap");
      return isolateHeapUsage(inspectorPort, o?.gc ?? false);
    },
    dispose: () => mf.dispose(),
  };
}

function forwardLines(streams: Readable[], onLine: (line: string) => void): void {
  for (const stream of streams) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => {
      const lines = (pending + d).split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) if (l.trim() !== "") onLine(l);
    });
  }
}

/** Pids of this process's workerd children. */
export function workerdPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && stat.includes("(workerd)")) pids.push(Number(entry));
    } catch {
      /* process exited while listing */
    }
  }
  return pids;
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface MinimalWebSocket {
  send(data: string): void;
  close(): void;
  addEventListener(type: "open" | "message" | "error", cb: (ev: { data?: unknown }) => void): void;
}

function openWebSocket(url: string): MinimalWebSocket {
  const Native = (globalThis as { WebSocket?: new (url: string) => MinimalWebSocket }).WebSocket;
  // Node 20 keeps WebSocket behind a flag; `ws` is a devDependency (Miniflare nests its own).
  const Ctor = Native ?? (createRequire(import.meta.url)("ws") as new (url: string) => MinimalWebSocket);
  return new Ctor(url);
}

async function isolateHeapUsage(inspectorPort: number, gc: boolean): Promise<IsolateHeap> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string; title?: string }>;
  const target = targets.find((t) => t.title?.includes("core:user")) ?? targets[0];
  if (!target) throw new Error("workerd inspector lists no isolate");
  const ws = openWebSocket(target.webSocketDebuggerUrl);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("inspector did not answer")), 60_000);
      ws.addEventListener("error", () => reject(new Error("inspector connection failed")));
      // workerd's inspector never answers HeapProfiler.collectGarbage, but a heap
      // snapshot collects everything first (the snapshot itself is discarded).
      ws.addEventListener("open", () => {
        if (gc) ws.send(JSON.stringify({ id: 2, method: "HeapProfiler.takeHeapSnapshot", params: { reportProgress: false } }));
        else ws.send(JSON.stringify({ id: 1, method: "Runtime.getHeapUsage" }));
      });
      ws.addEventListener("message", (ev) => {
        const msg = JSON.parse(String(ev.data)) as { id?: number; result?: { usedSize: number; totalSize: number; backingStorageSize?: number } };
        if (msg.id === 2) ws.send(JSON.stringify({ id: 1, method: "Runtime.getHeapUsage" }));
        if (msg.id !== 1 || !msg.result) return;
        clearTimeout(timer);
        resolve({ usedBytes: msg.result.usedSize, totalBytes: msg.result.totalSize, arrayBufferBytes: msg.result.backingStorageSize ?? 0 });
      });
    });
  } finally {
    ws.close();
  }
}
