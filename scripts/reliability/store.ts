// Damage and repair of a local KV store (a Miniflare persist dir) for the fault
// runs of npm run loadtest: flip one byte of stored values on disk, or delete
// values inside workerd (a one-route tool Worker) instead of one binding round
// trip per key.
import { createHash } from "node:crypto";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Miniflare } from "miniflare";
import { compatibilityDate, KV_BINDING, kvNamespaceId } from "../local/harness.ts";

const TOOL = `export default { async fetch(request, env) {
  const { op, keys } = await request.json();
  let done = 0;
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map(async (key) => {
      if (op === "delete") { await env.${KV_BINDING}.delete(key); done++; return; }
      const v = await env.${KV_BINDING}.get(key, "text");
      if (v === null) return;
      const mid = v.length >> 1;
      // Same length, one character changed: only a checksum can tell.
      await env.${KV_BINDING}.put(key, v.slice(0, mid) + (v[mid] === "A" ? "B" : "A") + v.slice(mid + 1));
      done++;
    }));
  }
  return new Response(String(done));
} };`;

/** Flips one character of (`corrupt`) or deletes every value under `keys`; returns how many. */
export async function damageValues(persistDir: string, op: "corrupt" | "delete", keys: readonly string[]): Promise<number> {
  const mf = new Miniflare({ modules: true, script: TOOL, compatibilityDate: compatibilityDate(), kvNamespaces: { [KV_BINDING]: kvNamespaceId() }, defaultPersistRoot: path.join(persistDir, "v3") });
  try {
    const url = await mf.ready;
    let done = 0;
    // The tool handles values one by one: chunks of 1,000 keep each request well short of the time after
    // which workerd drops it (docs/decisions.md#kv-bulk-load-batch-sizes).
    for (let i = 0; i < keys.length; i += 1000) {
      const res = await fetch(url, { method: "POST", body: JSON.stringify({ op, keys: keys.slice(i, i + 1000) }) });
      if (!res.ok) throw new Error(`store tool answered ${res.status}`);
      done += Number(await res.text());
    }
    return done;
  } finally {
    await mf.dispose();
  }
}

export async function snapshotStore(persistDir: string, backup: string): Promise<void> {
  await rm(backup, { recursive: true, force: true });
  await cp(persistDir, backup, { recursive: true });
}

export async function restoreStore(backup: string, persistDir: string): Promise<void> {
  await rm(persistDir, { recursive: true, force: true });
  await cp(backup, persistDir, { recursive: true });
}

const sha256 = (data: string | ArrayBuffer | Uint8Array) => createHash("sha256").update(typeof data === "string" ? data : new Uint8Array(data)).digest("hex");

/**
 * Flips one byte in the middle of every stored KV value (Miniflare keeps each in
 * a file under v3/kv/<namespace>/blobs) whose content is one of `values`; the
 * store is otherwise untouched. Run it with no Worker on the store. Returns how many.
 */
export async function corruptOnDisk(persistDir: string, values: Array<{ read(): Promise<string | ArrayBuffer> }>): Promise<number> {
  const wanted = new Set<string>();
  for (const v of values) wanted.add(sha256(await v.read()));
  const kvRoot = path.join(persistDir, "v3", "kv");
  let flipped = 0;
  for (const ns of await readdir(kvRoot)) {
    const blobs = path.join(kvRoot, ns, "blobs");
    const files = await readdir(blobs).catch(() => [] as string[]);
    for (const name of files) {
      const file = path.join(blobs, name);
      const bytes = await readFile(file);
      if (!wanted.has(sha256(bytes))) continue;
      const mid = bytes.length >> 1;
      bytes[mid] = bytes[mid] === 0x41 ? 0x42 : 0x41;
      await writeFile(file, bytes);
      flipped++;
    }
  }
  return flipped;
}
