// Where a deploy, rollback or `versions` reads and writes: the remote KV
// namespace (Cloudflare REST API) or local KV persisted the way `wrangler dev`
// and scripts/local persist it.
import path from "node:path";
import { Miniflare } from "miniflare";
import { KV_BINDING, kvNamespaceId } from "../local/harness.ts";
import { kvBinding } from "../common/wrangler-config.ts";
import { DEFAULT_PERSIST_DIR } from "../local/dev.ts";
import { bindingWriter, type KvWriter } from "./publish.ts";
import { RemoteKv } from "./remote-kv.ts";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { booleanFlags, HELP_FLAG, runCli, stringFlags, type CliIo, type CliStreams, type ErrorClass } from "../common/cli.ts";

export interface Target {
  kv: KvWriter;
  local: boolean;
  /** For log lines: "local KV in .wrangler/state" or "KV namespace <id> (account <id>)". */
  label: string;
  /** Remote only: the namespace id, to check wrangler.toml before `wrangler deploy`. */
  namespaceId?: string;
  close(): Promise<void>;
}

export class TargetError extends Error {}

/** The `id` of the [[kv_namespaces]] entry whose binding is INDEX, if the config (default wrangler.toml) sets one. */
export function tomlNamespaceId(configFile?: string): string | undefined {
  return kvBinding(KV_BINDING, configFile)?.id;
}

const SETUP_HINT = "see docs/deploy.md (one-time setup: `npx wrangler kv namespace create INDEX`, put the id in wrangler.toml, set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)";

export function remoteConfig(env: NodeJS.ProcessEnv = process.env, configFile?: string): { accountId: string; namespaceId: string; apiToken: string } {
  const namespaceId = env.KV_NAMESPACE_ID || tomlNamespaceId(configFile);
  const missing: string[] = [];
  if (!namespaceId) missing.push(`the KV namespace id (wrangler.toml has no \`id\` under [[kv_namespaces]] binding = "${KV_BINDING}", and KV_NAMESPACE_ID is not set)`);
  if (!env.CLOUDFLARE_API_TOKEN) missing.push("CLOUDFLARE_API_TOKEN");
  if (!env.CLOUDFLARE_ACCOUNT_ID) missing.push("CLOUDFLARE_ACCOUNT_ID");
  if (missing.length) throw new TargetError(`cannot reach the remote KV namespace: missing ${missing.join(", ")}; ${SETUP_HINT}. Use --local for local KV.`);
  return { accountId: env.CLOUDFLARE_ACCOUNT_ID!, namespaceId: namespaceId!, apiToken: env.CLOUDFLARE_API_TOKEN! };
}

export function openRemote(log: (s: string) => void = () => {}): Target {
  const c = remoteConfig();
  const kv = new RemoteKv({ ...c, onRetry: (what, attempt, reason, delay) => log(`  retry ${attempt} of ${what} in ${delay} ms (${reason})`) });
  return { kv, local: false, label: `KV namespace ${c.namespaceId} (account ${c.accountId})`, namespaceId: c.namespaceId, close: async () => {} };
}

/**
 * Local KV in `<persistDir>/v3`, the store `wrangler dev --persist-to <persistDir>`
 * and startLocalWorker serve. Opened through a do-nothing Worker, so no bundle is needed.
 * Do not open it while another workerd serves the same directory.
 */
export async function openLocal(persistDir = DEFAULT_PERSIST_DIR): Promise<Target> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 204 }); } };",
    kvNamespaces: { [KV_BINDING]: kvNamespaceId() },
    defaultPersistRoot: path.join(persistDir, "v3"),
    port: 0,
    host: "127.0.0.1",
  });
  await mf.ready;
  const kv = await mf.getKVNamespace(KV_BINDING);
  return {
    kv: bindingWriter(kv as unknown as Parameters<typeof bindingWriter>[0]),
    local: true,
    label: `local KV in ${path.relative(process.cwd(), persistDir) || persistDir}`,
    close: () => mf.dispose(),
  };
}

export async function openTarget(o: { local?: boolean; persistTo?: string }, log?: (s: string) => void): Promise<Target> {
  return o.local ? openLocal(o.persistTo ? path.resolve(o.persistTo) : DEFAULT_PERSIST_DIR) : openRemote(log);
}

/**
 * What every KV command shares: use the injected store or open the target
 * (printing its label), run `fn`, close. Errors go to the caller (runCli maps them).
 */
export async function withKv<T>(
  kv: KvWriter | undefined,
  where: { local?: boolean; persistTo?: string },
  io: { out: (s: string) => void; err: (s: string) => void; label?: boolean },
  fn: (kv: KvWriter) => Promise<T>,
): Promise<T> {
  let target: Target | undefined;
  try {
    if (!kv) {
      target = await openTarget(where, io.err);
      kv = target.kv;
      if (io.label !== false) io.out(`target: ${target.label}`);
    }
    return await fn(kv);
  } finally {
    await target?.close();
  }
}

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

const KV_FLAGS = { ...booleanFlags("local"), ...stringFlags("persist-to"), ...HELP_FLAG };

type KvCommandValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O & typeof KV_FLAGS; strict: true }>>["values"];

/**
 * A command over one KV store (rollback, versions): its own flags plus --local
 * and --persist-to, run through runCli with the store injected or opened around `fn`.
 */
export function runKvCommand<const O extends ParseArgsOptionsConfig>(
  usage: string,
  options: O,
  argv: string[],
  io: CliIo & { kv?: KvWriter },
  fn: (kv: KvWriter, values: KvCommandValues<O>, streams: CliStreams) => Promise<void>,
  o: { expected?: readonly ErrorClass[]; label?: (values: KvCommandValues<O>) => boolean } = {},
): Promise<number> {
  const config = { options: { ...options, ...KV_FLAGS }, strict: true } as const;
  return runCli(
    usage,
    config,
    ({ values }, streams) => {
      const v = values as KvCommandValues<O>;
      const where = values as { local?: boolean; "persist-to"?: string };
      return withKv(io.kv, { local: where.local, persistTo: where["persist-to"] }, { ...streams, label: o.label?.(v) ?? true }, (kv) => fn(kv, v, streams));
    },
    [TargetError, ...(o.expected ?? [])],
    { ...io, argv },
  );
}
