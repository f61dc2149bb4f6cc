// `npm start`: build the index of the sample corpus (or CORPUS=FILE) if it is not
// built yet, load it and the model into local KV, and serve the Worker with
// `wrangler dev` on http://localhost:8787. Nothing but npm touches the network.
import path from "node:path";
import { readManifest } from "./artifacts/dir.ts";
import { fileSha256, reportLines, runBuild } from "./builder/build.ts";
import { DEFAULT_PERSIST_DIR, runWranglerDev, seedStore } from "./local/index.ts";
import { bindingWriter, publish } from "./deploy/publish.ts";
import { ensureSampleCorpus } from "./builder/corpus/sample-corpus.ts";
import { DEFAULT_OUT, PROJECT_ROOT } from "./common/paths.ts";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const corpus = process.env.CORPUS
  ? path.resolve(process.env.CORPUS)
  : await ensureSampleCorpus({ out: path.join(PROJECT_ROOT, ".cache", "sample", "sotu-sentences.jsonl") });
const out = process.env.ARTIFACTS ? path.resolve(process.env.ARTIFACTS) : DEFAULT_OUT;
const port = Number(process.env.PORT ?? 8787);

const built = await readManifest(out).catch(() => null);
if (built && built.corpus.sha256 === (await fileSha256(corpus))) {
  console.log(`index ${built.version} of ${path.basename(corpus)} is up to date in ${path.relative(PROJECT_ROOT, out)}/`);
} else {
  console.log(`building the index of ${corpus} …`);
  try {
    const { report } = await runBuild({ corpus, out });
    console.log(reportLines(report).join("\n"));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
}

await seedStore(DEFAULT_PERSIST_DIR, async (kv) => {
  const { plan, manifest } = await publish(bindingWriter(kv), out);
  console.log(`local KV: uploaded ${plan.upload.length} values (${(plan.uploadBytes / 2 ** 20).toFixed(1)} MiB), ${plan.skip.length} already there; serving version ${manifest.version}`);
});
const child = await runWranglerDev({ persistDir: DEFAULT_PERSIST_DIR, port });
console.log(`\nSearch page: http://127.0.0.1:${port}/   API: http://127.0.0.1:${port}/v1/search?q=your+query (docs/api.md)`);
const stop = () => child.kill("SIGTERM");
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
