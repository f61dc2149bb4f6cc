// Damage and repair of a local KV store (a Miniflare persist dir) for the fault
// runs of npm run loadtest: flip one character of values, or delete them, inside
// workerd (a one-route tool Worker) instead of one binding round trip per key.
import { cp, rm } from "node:fs/promises";
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
    for (let i = 0; i < keys.length; i += 5000) {
      const res = await fetch(url, { method: "POST", body: JSON.stringify({ op, keys: keys.slice(i, i + 5000) }) });
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
