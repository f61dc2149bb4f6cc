// Rollback: one pointer write back to a kept version, after checking that the
// version's manifest and values are complete and intact (hashes) in KV, under
// the deploy lock (scripts/deploy/lock.ts).
import { POINTER_KEY, encodePointer } from "../../lib/index/manifest.ts";
import { sha256Hex } from "../../lib/index/sha256.ts";
import { byRecency, corruptValues, missingValues, readManifestAt, readPointer, readRegistry, writeRegistry } from "./registry.ts";
import { withLock } from "./lock.ts";
import type { KvWriter } from "./publish.ts";

export class RollbackError extends Error {}

export async function rollback(kv: KvWriter, to: string | undefined, log: (s: string) => void, o: { lockWaitMs?: number; local?: boolean } = {}): Promise<{ from: string | null; to: string; switchMs: number | null }> {
  return withLock(kv, "rollback", { waitMs: o.lockWaitMs ?? 0, settleMs: o.local ? 50 : 2000, log }, () => rollbackLocked(kv, to, log));
}

async function rollbackLocked(kv: KvWriter, to: string | undefined, log: (s: string) => void): Promise<{ from: string | null; to: string; switchMs: number | null }> {
  const pointer = await readPointer(kv);
  const registry = await readRegistry(kv);
  let target;
  if (to) {
    const matches = registry.versions.filter((v) => v.version === to || v.version.startsWith(to));
    const exact = matches.find((v) => v.version === to);
    if (!exact && matches.length !== 1) {
      throw new RollbackError(matches.length ? `"${to}" matches ${matches.length} kept versions: ${matches.map((m) => m.version).join(", ")}` : `version "${to}" is not kept (kept: ${registry.versions.map((v) => v.version).join(", ") || "none"})`);
    }
    target = exact ?? matches[0];
  } else {
    target = registry.versions.filter((v) => v.version !== pointer?.version && v.switchedAt !== null).sort(byRecency)[0];
    if (!target) throw new RollbackError("no earlier version is kept to roll back to");
  }
  if (target.version === pointer?.version) {
    log(`version ${target.version} is already live`);
    return { from: pointer.version, to: target.version, switchMs: null };
  }
  const manifest = await readManifestAt(kv, target.manifestKey);
  if (!manifest) throw new RollbackError(`version ${target.version}: ${target.manifestKey} is missing from KV; cannot roll back to it`);
  const missing = await missingValues(kv, manifest);
  if (missing.length) throw new RollbackError(`version ${target.version} is incomplete in KV (${missing.length} values missing, e.g. ${missing[0]}); not switching`);
  const corrupt = await corruptValues(kv, manifest);
  if (corrupt.length) throw new RollbackError(`version ${target.version} has ${corrupt.length} values that fail their hash in KV (e.g. ${corrupt[0]}); redeploy it to rewrite them; not switching`);
  // The pointer names the manifest by the hash of its stored text.
  const manifestText = (await kv.get(target.manifestKey))!;
  const now = new Date().toISOString();
  target.switchedAt = now;
  await writeRegistry(kv, registry);
  const t0 = performance.now();
  await kv.put(POINTER_KEY, encodePointer(target.version, now, await sha256Hex(manifestText)));
  const switchMs = performance.now() - t0;
  log(`rolled back ${pointer?.version ?? "(none)"} → ${target.version} (${target.items} items, built ${target.createdAt}) with one pointer write in ${switchMs.toFixed(0)} ms`);
  return { from: pointer?.version ?? null, to: target.version, switchMs };
}
