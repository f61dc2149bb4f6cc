// The kept versions, newest first, the live one marked: what `npm run versions` lists.
import { byRecency, entryFor, readManifestAt, readPointer, readRegistry, type VersionEntry } from "./registry.ts";
import type { KvWriter } from "./publish.ts";

export async function listVersions(kv: KvWriter): Promise<{ live: string | null; versions: VersionEntry[] }> {
  const pointer = await readPointer(kv);
  const registry = await readRegistry(kv);
  const versions = [...registry.versions].sort(byRecency);
  if (pointer && !versions.some((v) => v.version === pointer.version)) {
    // Published before deploys kept a registry (e.g. by npm start).
    const m = await readManifestAt(kv, pointer.manifestKey);
    if (m) versions.unshift(entryFor(m, pointer.switchedAt, pointer.switchedAt));
  }
  return { live: pointer?.version ?? null, versions };
}

export function formatVersions(r: { live: string | null; versions: VersionEntry[] }): string {
  if (!r.versions.length) return "no versions deployed yet";
  const rows = [["", "version", "built", "last live", "items", "recall@10", "corpus"]];
  for (const v of r.versions) {
    rows.push([
      v.version === r.live ? "*" : "",
      v.version,
      v.createdAt.replace("T", " ").slice(0, 19),
      v.switchedAt ? v.switchedAt.replace("T", " ").slice(0, 19) : "never",
      String(v.items),
      v.recallAt10 === null ? "-" : v.recallAt10.toFixed(3),
      v.corpus?.file ?? "-",
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()).join("\n") + "\n* = live";
}
