// Publishes build artifacts into a local KV store (a Miniflare persist dir) fast:
// the item records go in a few bulk requests to a loader Worker inside workerd
// instead of one binding round trip each. Used by the test fixture and npm run loadtest.
import path from "node:path";
import { Miniflare } from "miniflare";
import { compatibilityDate, KV_BINDING, kvNamespaceId } from "./harness.ts";
import { bindingWriter, publish, type KvWriter } from "../publish.ts";

/**
 * publish() into a fresh store, the item records in a few bulk requests: through
 * Miniflare's binding proxy each put is a round trip (~2,000 of them took 17–30 s
 * on a shared 2-core box). A one-route loader Worker on the same persist dir and
 * namespace writes them inside workerd; the rest goes through the normal binding.
 */
export async function publishInBulk(persistDir: string, artifacts: string): Promise<void> {
  const mf = new Miniflare({
    modules: true,
    script: `export default { async fetch(request, env) {
      const entries = await request.json();
      for (let i = 0; i < entries.length; i += 50) await Promise.all(entries.slice(i, i + 50).map((e) => env.${KV_BINDING}.put(e.key, e.value)));
      return new Response(String(entries.length));
    } };`,
    compatibilityDate: compatibilityDate(),
    kvNamespaces: { [KV_BINDING]: kvNamespaceId() },
    defaultPersistRoot: path.join(persistDir, "v3"),
  });
  try {
    const url = await mf.ready;
    const kv = await mf.getKVNamespace(KV_BINDING);
    const base = bindingWriter(kv as never);
    const writer: KvWriter = {
      ...base,
      async putMany(entries) {
        const texts = entries.filter((e): e is { key: string; value: string } => typeof e.value === "string");
        await base.putMany(entries.filter((e) => typeof e.value !== "string"));
        for (let i = 0; i < texts.length; i += 1000) {
          const res = await fetch(url, { method: "POST", body: JSON.stringify(texts.slice(i, i + 1000)) });
          if (!res.ok || (await res.text()) !== String(Math.min(1000, texts.length - i))) throw new Error(`bulk KV load failed: ${res.status}`);
        }
      },
    };
    await publish(writer, artifacts);
  } finally {
    await mf.dispose();
  }
}

