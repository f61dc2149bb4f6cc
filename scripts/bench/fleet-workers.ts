// Child process of the fleet bench (scripts/bench/embed-fleet.ts): starts K local
// Workers in workerd, each its own process with the model seeded and /embed
// behind the token, prints one JSON line {urls, pids} on stdout, and stops them
// when its stdin closes. The Workers run outside the bench's process so that
// the bench's CPU figure is the build's side alone, as with a deployed fleet.
// Usage: tsx scripts/bench/fleet-workers.ts K TOKEN BUNDLE_DIR (a `bundleWorker()` output)
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { prepareModel } from "../builder/embedding/node-model.ts";
import { startLocalWorker, workerdPids, type Bundle } from "../local/harness.ts";
import { publishManifest, putModel } from "../local/seed.ts";


const k = Number(process.argv[2]);
const token = process.argv[3];
const bundleDir = process.argv[4];
if (!Number.isInteger(k) || k < 1 || !token || !bundleDir) {
  process.stderr.write("usage: tsx scripts/bench/fleet-workers.ts K TOKEN BUNDLE_DIR\n");
  process.exit(2);
}
const model = await prepareModel();
// Only the entry and its directory are read to start a Worker.
const bundle: Bundle = { outDir: bundleDir, entry: path.join(bundleDir, "worker.js"), bytes: 0, gzipBytes: 0, files: [] };
const started = await Promise.all(
  Array.from({ length: k }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ess-fleet-"));
    // RATE_LIMITS "off": the keyed limits of issue 24 refuse requests to a Worker without bindings otherwise.
    const w = await startLocalWorker({ persistDir: dir, bundle, vars: { EMBED_TOKEN: token, RATE_LIMITS: "off" } });
    await publishManifest(w.kv, { version: "fleet-bench", model: await putModel(w.kv, model), items: 0 });
    return { w, dir };
  }),
);
process.stdout.write(JSON.stringify({ urls: started.map((s) => s.w.url.toString()), pids: workerdPids() }) + "\n");
const stop = async () => {
  await Promise.all(started.map(async ({ w, dir }) => (await w.dispose(), await rm(dir, { recursive: true, force: true }))));
  process.exit(0);
};
process.stdin.on("end", () => void stop());
process.stdin.resume();
