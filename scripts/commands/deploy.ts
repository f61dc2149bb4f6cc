// `npm run deploy -- --corpus FILE [--local] [--dry-run] [--force] …`
// Builds (embedding only new texts), refuses bad builds (recall gate), uploads
// only the KV values not there yet, switches the live version with one pointer
// write, deploys the Worker code if it changed, and keeps the last N versions.
// See docs/deploy.md.
import { parseArgs } from "node:util";
import { BUILD_FLAGS, buildOptionsFromFlags } from "../builder/flags.ts";
import { booleanFlags, HELP_FLAG, parseIntFlag, runCli, stringFlags, UsageError, type CliIo, type CliStreams } from "../common/cli.ts";
import { CorpusError } from "../builder/corpus/read-corpus.ts";
import { LockError } from "../deploy/lock.ts";
import { DEFAULTS, GateError, runDeploy, type DeployOptions, type DeployResult } from "../deploy/deploy.ts";
import { openTarget, TargetError, type Target } from "../deploy/target.ts";
import type { KvWriter } from "../deploy/publish.ts";

const USAGE = `Usage: npm run deploy -- --corpus FILE [options]

  --corpus FILE         the corpus to index (.txt, .csv/.tsv, .jsonl)
  --local               deploy to local KV (wrangler dev / npm start store), never runs wrangler deploy
  --persist-to DIR      local KV directory (default .wrangler/state)
  --dry-run             build, print the recall report and the upload/GC plan; write nothing
  --force               switch even if the recall gate fails
  --min-recall X        recall@10 self-check threshold (default ${DEFAULTS.minRecall})
  --max-item-drop X     refuse if items drop by more than this fraction (default ${DEFAULTS.maxItemDrop})
  --keep N              previous versions kept for rollback (default ${DEFAULTS.keep}, min 1)
  --lock-wait SECONDS   wait this long for another deploy, rollback or GC holding the KV lock (default 0: refuse)
  --rebuild             re-partition instead of extending the live version
  --no-worker           do not deploy the Worker code even if it changed
  --out DIR             artifacts directory (default index-artifacts/)
  --cache DIR           embedding cache directory (default .cache/embeddings)
  --text-column NAME, --threads N, --leaf-size N, --pq-m N, --rerank N, --rerank-margin X, --nprobe N,
  --probe-margin X, --probe-kb N, --target-recall X, --check-queries N   build parameters, as for npm run build
  --quiet               no build progress on stderr
  --json                print the result as JSON on the last line

Remote (default): CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, and the namespace id
from wrangler.toml ([[kv_namespaces]] binding = "INDEX", id = "…") or KV_NAMESPACE_ID.
Exit codes: 0 done (or nothing to do), 2 usage/configuration, 3 refused by the recall gate, 1 other errors.
`;

export interface DeployIo extends CliIo {
  /** Use this store instead of opening one (tests: a running Worker's KV binding). */
  kv?: KvWriter;
  onResult?: (r: DeployResult) => void;
}

const CONFIG = {
  options: {
    ...stringFlags("corpus", "persist-to", "min-recall", "max-item-drop", "keep", "lock-wait", "out", "cache"),
    ...booleanFlags("local", "dry-run", "force", "rebuild", "no-worker", "quiet", "json"),
    ...BUILD_FLAGS,
    ...HELP_FLAG,
  },
  strict: true,
} as const;

type Flags = ReturnType<typeof parseArgs<typeof CONFIG>>["values"];

/** Exit code when the recall gate refuses the switch. */
const EXIT_REFUSED = 3;

function fraction(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new UsageError(`--${name} must be a number in [0, 1], got "${v}"`);
  return n;
}

function deployOptions(args: Flags): Omit<DeployOptions, "local" | "namespaceId"> {
  if (!args.corpus) throw new UsageError("--corpus FILE is required");
  return {
    corpus: args.corpus,
    out: args.out,
    cacheDir: args.cache,
    extend: !args.rebuild,
    dryRun: args["dry-run"],
    force: args.force,
    minRecall: fraction("min-recall", args["min-recall"]),
    maxItemDrop: fraction("max-item-drop", args["max-item-drop"]),
    keep: parseIntFlag("keep", args.keep, 1),
    lockWaitMs: (parseIntFlag("lock-wait", args["lock-wait"], 0) ?? 0) * 1000,
    deployWorker: !args["no-worker"],
    quietBuild: args.quiet,
    build: buildOptionsFromFlags(args),
  };
}

/** The target named by the flags; a dry run without credentials plans against an empty store. */
async function openDeployTarget(args: Flags, { out, err }: CliStreams): Promise<Target> {
  let target: Target;
  try {
    target = await openTarget({ local: args.local, persistTo: args["persist-to"] }, err);
  } catch (e) {
    // A pull request without secrets can still show the build and a plan against an empty store.
    if (!(e instanceof TargetError && args["dry-run"])) throw e;
    err(`warning: ${e.message}\nplanning against an empty store instead`);
    target = await emptyTarget();
  }
  out(`target: ${target.label}`);
  return target;
}

async function deployCommand(args: Flags, streams: CliStreams, io: DeployIo): Promise<number> {
  const options = deployOptions(args);
  const target = io.kv ? undefined : await openDeployTarget(args, streams);
  try {
    const kv = io.kv ?? target!.kv;
    const local = target ? target.local : Boolean(args.local);
    const result = await runDeploy(kv, { ...options, local, namespaceId: target?.namespaceId }, streams.out);
    io.onResult?.(result);
    if (args.json) streams.out(JSON.stringify(summary(result)));
    return 0;
  } catch (e) {
    if (e instanceof LockError) {
      streams.err(`error: ${e.message}`);
      return EXIT_REFUSED;
    }
    if (!(e instanceof GateError)) throw e;
    streams.err(`error: ${e.message}`);
    const r = (e as GateError & { result?: DeployResult }).result;
    if (r) io.onResult?.(r);
    return EXIT_REFUSED;
  } finally {
    await target?.close();
  }
}

export function main(argv: string[], io: DeployIo = {}): Promise<number> {
  return runCli(USAGE, CONFIG, ({ values }, streams) => deployCommand(values, streams, io), [CorpusError, TargetError], { ...io, argv });
}

/** A throwaway in-memory store for dry runs without credentials. */
async function emptyTarget(): Promise<Target> {
  const map = new Map<string, string>();
  const kv: KvWriter = {
    listKeys: async (prefix) => new Set([...map.keys()].filter((k) => k.startsWith(prefix))),
    putMany: async () => {
      throw new Error("the empty planning store is read-only");
    },
    get: async (k) => map.get(k) ?? null,
    put: async () => {
      throw new Error("the empty planning store is read-only");
    },
  };
  return { kv, local: true, label: "an empty store (no credentials: plan only)", close: async () => {} };
}

export function summary(r: DeployResult) {
  return {
    status: r.status,
    version: r.version,
    previous: r.previous,
    gate: { ok: r.gate.ok, recallAt10: r.gate.recallAt10, reasons: r.gate.reasons },
    uploaded: { values: r.plan.upload.length, bytes: r.plan.uploadBytes, ...r.uploadByKind },
    skipped: { values: r.plan.skip.length, bytes: r.plan.skipBytes },
    changedShards: r.changedShards,
    shards: r.shards,
    switchMs: r.switchMs,
    gc: r.gc && { dropped: r.gc.droppedVersions, deleted: r.gc.delete.length },
    worker: r.worker,
  };
}
