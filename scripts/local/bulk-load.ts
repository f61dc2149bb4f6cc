// publish() into a local KV store (a Miniflare persist dir) with the item records
// sent in bulk: through Miniflare's binding proxy each put is a round trip
// (slow for a large index), so a one-route loader Worker on the same persist dir and
// namespace writes them inside workerd, many requests in flight; the rest goes
// through the normal binding.
import path from "node:path";
import { Miniflare } from "miniflare";
import pRetry from "p-retry";
import { bindingWriter, publish, type KvWriter } from "../deploy/publish.ts";
import { compatibilityDate, KV_BINDING, kvNamespaceId } from "./harness.ts";

/** Values per request, and requests in flight: the best of the sizes tried, with workerd busy writing (docs/decisions.md#kv-bulk-load-batch-sizes). */
const VALUES_PER_REQUEST = 500;
const REQUESTS_IN_FLIGHT = 4;
const PUTS_IN_FLIGHT = 50;
const RETRIES = 5;
const RETRY_MS = 500;

const LOADER = `export default { async fetch(request, env) {
  const entries = await request.json();
  for (let i = 0; i < entries.length; i += ${PUTS_IN_FLIGHT}) await Promise.all(entries.slice(i, i + ${PUTS_IN_FLIGHT}).map((e) => env.${KV_BINDING}.put(e.key, e.value)));
  return new Response(String(entries.length));
} };`;

export async function publishToLocalKv(persistDir: string, artifacts: string, opts: { switchPointer?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<void> {
  const mf = new Miniflare({
    modules: true,
    script: LOADER,
    compatibilityDate: compatibilityDate(),
    kvNamespaces: { [KV_BINDING]: kvNamespaceId() },
    defaultPersistRoot: path.join(persistDir, "v3"),
  });
  try {
    const url = await mf.ready;
    const base = bindingWriter((await mf.getKVNamespace(KV_BINDING)) as never);
    // A busy workerd now and then drops a connection; puts are idempotent, so the batch is sent again.
    const post = (batch: Array<{ key: string; value: string }>) =>
      pRetry(
        async () => {
          const res = await fetch(url, { method: "POST", body: JSON.stringify(batch) });
          if (!res.ok || (await res.text()) !== String(batch.length)) throw new Error(`bulk KV load failed: ${res.status}`);
        },
        { retries: RETRIES, minTimeout: RETRY_MS },
      );
    const writer: KvWriter = {
      ...base,
      async putMany(entries) {
        const texts = entries.filter((e): e is { key: string; value: string } => typeof e.value === "string");
        await base.putMany(entries.filter((e) => typeof e.value !== "string"));
        const batches: Array<Array<{ key: string; value: string }>> = [];
        for (let i = 0; i < texts.length; i += VALUES_PER_REQUEST) batches.push(texts.slice(i, i + VALUES_PER_REQUEST));
        let next = 0;
        await Promise.all(
          Array.from({ length: REQUESTS_IN_FLIGHT }, async () => {
            while (next < batches.length) await post(batches[next++]);
          }),
        );
      },
    };
    await publish(writer, artifacts, { switchPointer: opts.switchPointer, onProgress: opts.onProgress });
  } finally {
    await mf.dispose();
  }
}
