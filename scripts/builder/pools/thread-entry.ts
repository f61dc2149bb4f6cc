// Thread entry modules as plain .mjs files: loader hooks such as tsx's
// do not reach worker_threads' entry modules on Node 20, so each thread's
// TypeScript is bundled once per process (dependencies left external).
import { buildSync } from "esbuild";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Worker } from "node:worker_threads";
import { PROJECT_ROOT } from "../../common/paths.ts";

const bundled = new Map<string, string>();

export function threadScript(entry: URL, name: string): string {
  const known = bundled.get(entry.href);
  if (known) return known;
  // Inside the project so that the bundle's bare imports resolve from its node_modules.
  const dir = path.join(PROJECT_ROOT, "node_modules", ".cache", "edge-search");
  mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, `${name}-${process.pid}.mjs`);
  buildSync({ entryPoints: [entry.pathname], bundle: true, platform: "node", format: "esm", packages: "external", outfile, absWorkingDir: PROJECT_ROOT, logLevel: "error" });
  bundled.set(entry.href, outfile);
  return outfile;
}

export function removeThreadScript(entry: URL): void {
  const file = bundled.get(entry.href);
  if (file) rmSync(file, { force: true });
  bundled.delete(entry.href);
}

/**
 * Request/response over one worker thread: each message carries an id, the
 * thread answers `{ id, result }` or `{ id, error }`; a crashed thread fails
 * every call still waiting on it.
 */
export class ThreadCalls<Req, Res> {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: Res) => void; reject: (e: Error) => void }>();

  constructor(
    readonly worker: Worker,
    label: string,
  ) {
    worker.on("message", (m: { id: number; result?: Res; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`${label} thread failed: ${m.error}`));
      else p.resolve(m.result as Res);
    });
    worker.on("error", (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  call(request: Req): Promise<Res> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...request });
    });
  }
}
