// `npm run keys -- <create|rotate|revoke|list> …`: the API keys of a deployment.
// A key is shown once, at creation or rotation; only its sha256 is kept, in a
// local registry file (default .api-keys.json, git-ignored) and in the Worker
// secret API_KEYS, which --put writes with `wrangler secret put` (a new secret
// value takes effect at once, as a new deployment of the Worker). --dev-vars
// writes it to .dev.vars for `npm start` instead.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { defaultTier, hashKey, newKey, parseKeyRecords, SCOPES, type KeyRecord, type KeyTier, type Scope } from "../../functions/keys.ts";
import { booleanFlags, HELP_FLAG, runCli, stringFlags, UsageError, type CliIo, type CliStreams } from "../common/cli.ts";
import { PROJECT_ROOT } from "../common/paths.ts";
import { WRANGLER_ENV, wranglerBin } from "../local/harness.ts";

const USAGE = `Usage: npm run keys -- <command> [options]

  create --name NAME --scopes search[,embed][,admin] [--tier standard|bulk]
                        a new key (printed once); tier defaults to bulk for embed keys
  rotate --name NAME    a new key for NAME, same scopes and tier; the old one stops working
  revoke --name NAME    NAME's key stops working
  list                  names, scopes and tiers (never keys)

  --file PATH           the registry of key hashes (default .api-keys.json)
  --put                 then write the secret: wrangler secret put API_KEYS
  --dev-vars            then write API_KEYS to .dev.vars (npm start / wrangler dev)
  --json                print API_KEYS's value on the last line
`;

interface RegistryFile {
  format: "edge-semantic-search/api-keys/1";
  keys: Array<KeyRecord & { createdAt: string }>;
}

async function readRegistryFile(file: string): Promise<RegistryFile> {
  if (!existsSync(file)) return { format: "edge-semantic-search/api-keys/1", keys: [] };
  const r = JSON.parse(await readFile(file, "utf8")) as RegistryFile;
  parseKeyRecords(JSON.stringify(r.keys)); // refuses a hand-edited file the Worker would refuse
  return r;
}

/** The secret's value: what the Worker reads (functions/keys.ts KeyRecord[]). */
export function secretValue(r: RegistryFile): string {
  return JSON.stringify(r.keys.map(({ name, sha256, scopes, tier }) => ({ name, sha256, scopes, ...(tier ? { tier } : {}) })));
}

function parseScopes(raw: string | undefined): Scope[] {
  if (!raw) throw new UsageError(`--scopes is required: a comma-separated list of ${SCOPES.join(", ")}`);
  const scopes = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scopes) if (!SCOPES.includes(s as Scope)) throw new UsageError(`unknown scope "${s}"; scopes are ${SCOPES.join(", ")}`);
  return [...new Set(scopes)] as Scope[];
}

function putSecret(value: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(wranglerBin(), ["secret", "put", "API_KEYS"], { cwd: PROJECT_ROOT, env: { ...process.env, ...WRANGLER_ENV }, stdio: ["pipe", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler secret put exited ${code}`))));
    child.stdin.end(value);
  });
}

async function writeDevVars(value: string): Promise<void> {
  const file = path.join(PROJECT_ROOT, ".dev.vars");
  const lines = existsSync(file) ? (await readFile(file, "utf8")).split("\n").filter((l) => !l.startsWith("API_KEYS=")) : [];
  lines.push(`API_KEYS='${value}'`);
  await writeFile(file, lines.filter((l, i) => l !== "" || i < lines.length - 1).join("\n") + "\n", { mode: 0o600 });
}

const CONFIG = {
  allowPositionals: true,
  options: { ...stringFlags("name", "scopes", "tier", "file"), ...booleanFlags("put", "dev-vars", "json", "help") },
} as const;

async function run(command: string | undefined, a: Record<string, string | boolean | undefined>, { out }: CliStreams): Promise<number> {
  const file = path.resolve(PROJECT_ROOT, (a.file as string | undefined) ?? ".api-keys.json");
  const reg = await readRegistryFile(file);
  const name = a.name as string | undefined;
  const find = () => {
    if (!name) throw new UsageError("--name is required");
    const i = reg.keys.findIndex((k) => k.name === name);
    if (i < 0) throw new UsageError(`no key named "${name}" in ${path.relative(PROJECT_ROOT, file)}`);
    return i;
  };
  let shown: string | undefined;
  switch (command) {
    case "create": {
      if (!name || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError("--name must be 1-64 of [A-Za-z0-9._-]");
      if (reg.keys.some((k) => k.name === name)) throw new UsageError(`a key named "${name}" exists; rotate or revoke it`);
      const scopes = parseScopes(a.scopes as string | undefined);
      const tier = (a.tier as KeyTier | undefined) ?? defaultTier(scopes);
      if (tier !== "standard" && tier !== "bulk") throw new UsageError('--tier is "standard" or "bulk"');
      shown = newKey();
      reg.keys.push({ name, sha256: await hashKey(shown), scopes, tier, createdAt: new Date().toISOString() });
      break;
    }
    case "rotate": {
      const i = find();
      shown = newKey();
      reg.keys[i] = { ...reg.keys[i], sha256: await hashKey(shown), createdAt: new Date().toISOString() };
      break;
    }
    case "revoke":
      reg.keys.splice(find(), 1);
      break;
    case "list":
      for (const k of reg.keys) out(`${k.name}\t${k.scopes.join(",")}\t${k.tier ?? defaultTier(k.scopes)}\t${k.createdAt}`);
      if (!reg.keys.length) out("no keys");
      return 0;
    default:
      throw new UsageError(`unknown command "${command ?? ""}"`);
  }
  await writeFile(file, JSON.stringify(reg, null, 2) + "\n", { mode: 0o600 });
  const value = secretValue(reg);
  if (shown) out(`key for ${name} (shown once; send it as Authorization: Bearer <key>):\n${shown}`);
  out(`${path.relative(PROJECT_ROOT, file)}: ${reg.keys.length} keys`);
  if (a.put) {
    await putSecret(value);
    out("API_KEYS secret written (wrangler secret put)");
  } else if (a["dev-vars"]) {
    await writeDevVars(value);
    out("API_KEYS written to .dev.vars");
  } else out("not deployed yet: rerun with --put, or: npx wrangler secret put API_KEYS < (value below)");
  if (a.json || (!a.put && !a["dev-vars"])) out(value);
  return 0;
}

export function main(argv: string[], io: CliIo = {}): Promise<number> {
  return runCli(USAGE, CONFIG, (p, streams) => run(p.positionals[0], p.values as Record<string, string | boolean | undefined>, streams), [], { ...io, argv });
}
