// What `wrangler deploy` would deploy besides the code: the effective wrangler
// configuration (vars, limits, rate-limit and KV bindings, compatibility date
// and flags, routes, workers_dev, observability, …) as wrangler itself reads
// it. Its hash joins the bundle's in the redeploy decision, so a change to
// ALLOWED_ORIGINS or a limit is deployed even when the code is not.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { WRANGLER_TOML } from "../common/wrangler-config.ts";

/** The fields of wrangler's resolved config that change what the deployed Worker does. */
const DEPLOYED_FIELDS = [
  "name",
  "main",
  "compatibility_date",
  "compatibility_flags",
  "rules",
  "vars",
  "kv_namespaces",
  "ratelimits",
  "limits",
  "routes",
  "route",
  "workers_dev",
  "preview_urls",
  "observability",
  "placement",
  "triggers",
  "durable_objects",
  "services",
  "secrets",
] as const;

/** JSON with object keys sorted, so equal configs hash alike whatever their order in the file. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export function effectiveConfig(file: string = WRANGLER_TOML): Record<string, unknown> {
  const { unstable_readConfig } = createRequire(import.meta.url)("wrangler") as typeof import("wrangler");
  const raw = unstable_readConfig({ config: file }, { hideWarnings: true }) as unknown as Record<string, unknown>;
  return Object.fromEntries(DEPLOYED_FIELDS.map((k) => [k, raw[k]]));
}

export function configHash(file: string = WRANGLER_TOML): string {
  return createHash("sha256").update(canonical(effectiveConfig(file))).digest("hex");
}

/** What the deploy records and compares: the bundle's hash and the configuration's, together. */
export function deployedWorkerHash(bundleSha256: string, configSha256: string): string {
  return createHash("sha256").update(`bundle ${bundleSha256}\nconfig ${configSha256}\n`).digest("hex");
}
