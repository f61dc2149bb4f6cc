// wrangler.toml, read once by wrangler's own reader (TOML, validation and
// defaults exactly as `wrangler deploy` and `wrangler dev` see them), for the
// scripts that must agree with it: the local harness, the deploy target check.
import { createRequire } from "node:module";
import path from "node:path";
import { PROJECT_ROOT } from "./paths.ts";

export const WRANGLER_TOML = path.join(PROJECT_ROOT, "wrangler.toml");

export interface KvBinding {
  binding: string;
  id?: string;
  preview_id?: string;
}

/** The parts of the config the scripts use. */
export interface WorkerConfig {
  compatibilityDate?: string;
  compatibilityFlags: string[];
  vars: Record<string, string>;
  kvNamespaces: KvBinding[];
  ratelimits: Array<{ name: string; simple: { limit: number; period: number } }>;
}

const configs = new Map<string, WorkerConfig>();

/** The config in `file` (default the project's wrangler.toml), read on first use and then remembered. */
export function wranglerConfig(file: string = WRANGLER_TOML): WorkerConfig {
  const key = path.resolve(file);
  let c = configs.get(key);
  if (!c) {
    // Required on first use, not imported: wrangler is a large module most script runs never need.
    const { unstable_readConfig } = createRequire(import.meta.url)("wrangler") as typeof import("wrangler");
    const raw = unstable_readConfig({ config: key }, { hideWarnings: true });
    c = {
      compatibilityDate: (raw.compatibility_date as string | undefined) || undefined,
      compatibilityFlags: (raw.compatibility_flags ?? []) as string[],
      vars: Object.fromEntries(Object.entries((raw.vars ?? {}) as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
      kvNamespaces: ((raw.kv_namespaces ?? []) as KvBinding[]).map((n) => ({ binding: n.binding, id: n.id || undefined, preview_id: n.preview_id || undefined })),
      ratelimits: ((raw.ratelimits ?? []) as WorkerConfig["ratelimits"]).map((r) => ({ name: r.name, simple: { limit: r.simple.limit, period: r.simple.period } })),
    };
    configs.set(key, c);
  }
  return c;
}

/** The [[kv_namespaces]] entry bound as `binding`, if the config declares it. */
export function kvBinding(binding: string, file?: string): KvBinding | undefined {
  return wranglerConfig(file).kvNamespaces.find((n) => n.binding === binding);
}
