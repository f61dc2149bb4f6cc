// A deploy --local of a changed corpus and a rollback while clients query
// (POST, no edge cache), on the committed 2,000-headline sample: every request
// must succeed, and every answer must be the one its index.version gives.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runDeploy } from "../deploy/deploy.ts";
import { rollback } from "../deploy/rollback.ts";
import { bindingWriter } from "../deploy/publish.ts";
import { sharedWorkerBundle, startLocalWorker } from "../local/harness.ts";
import { runLoad, type Answer } from "./load.ts";

export interface DeployUnderLoad {
  corpus: string;
  versions: { a: string; b: string };
  requests: number;
  queries: number;
  failed: number;
  statuses: Record<string, number>;
  malformed: number;
  answersByVersion: Record<string, number>;
  mixedVersions: number;
  deploySeconds: number;
  rollbackSeconds: number;
}

/** The sample's first `rows` data rows as a CSV file. */
async function slice(csv: string, rows: number, file: string): Promise<void> {
  const lines = (await readFile(csv, "utf8")).split("\n").filter((l) => l !== "");
  await writeFile(file, lines.slice(0, rows + 1).join("\n") + "\n");
}

/** Answers of one version for one query and k must all agree; an A answer must not hold B-only items. */
function mixed(answers: Answer[], bOnlyIds: Set<string>, a: string): number {
  const first = new Map<string, string>();
  let bad = 0;
  for (const x of answers) {
    const key = `${x.version}|${x.k}|${x.q}`;
    const ids = x.ids.join(",");
    if (x.version === a && x.ids.some((id) => bOnlyIds.has(id))) bad++;
    else if (first.has(key) && first.get(key) !== ids) bad++;
    else first.set(key, ids);
  }
  return bad;
}

export async function deployUnderLoad(csv: string, cacheDir: string, queries: string[]): Promise<DeployUnderLoad> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "ess-loadtest-deploy-"));
  const [A_ROWS, B_ROWS] = [1900, 2000];
  const corpusA = path.join(tmp, "a.csv");
  const corpusB = path.join(tmp, "b.csv");
  await slice(csv, A_ROWS, corpusA);
  await slice(csv, B_ROWS, corpusB);
  // Realistic pointer TTL (1 s here, 10 s deployed): the switch reaches isolates in the background.
  const w = await startLocalWorker({ persistDir: path.join(tmp, "kv"), bundle: await sharedWorkerBundle(), vars: { POINTER_TTL_MS: "1000" }, onLog: () => undefined });
  const kv = bindingWriter(w.kv as unknown as Parameters<typeof bindingWriter>[0]);
  const silent = () => undefined;
  // What `npm run deploy -- --local --corpus … --quiet` does, through the same library call.
  const deploy = async (corpus: string) => (await runDeploy(kv, { corpus, out: path.join(tmp, "artifacts"), cacheDir, extend: true, local: true, quietBuild: true }, silent)).version;
  try {
    const a = await deploy(corpusA);
    let b = "";
    const t = { deploy: 0, rollback: 0 };
    // The load runs for as long as the deploy and rollback take, plus 5 s on each side.
    // Versions are checked afterwards: B's name is known only once its deploy returns, after the switch.
    const run = runLoadUntil(w.url, queries, A_ROWS, async () => {
      await sleep(5000);
      let t0 = performance.now();
      b = await deploy(corpusB);
      t.deploy = (performance.now() - t0) / 1000;
      await sleep(5000);
      t0 = performance.now();
      await rollback(kv, a, silent, { local: true });
      t.rollback = (performance.now() - t0) / 1000;
      await sleep(5000);
    });
    const report = await run;
    const bOnly = new Set(Array.from({ length: B_ROWS - A_ROWS }, (_, i) => String(A_ROWS + i)));
    const byVersion: Record<string, number> = {};
    for (const x of report.answers) byVersion[x.version] = (byVersion[x.version] ?? 0) + 1;
    return {
      corpus: `committed sample: ${A_ROWS} rows, then ${B_ROWS} (changed corpus), then rolled back`,
      versions: { a, b },
      requests: report.requests,
      queries: report.queries,
      failed: report.requests - (report.statuses["200"] ?? 0),
      statuses: report.statuses,
      malformed: report.malformed,
      answersByVersion: byVersion,
      mixedVersions: mixed(report.answers, bOnly, a) + report.answers.filter((x) => x.version !== a && x.version !== b).length,
      deploySeconds: Math.round(t.deploy * 10) / 10,
      rollbackSeconds: Math.round(t.rollback * 10) / 10,
    };
  } finally {
    await w.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** runLoad with 8 clients for as long as `during` runs (bounded: at most 10 minutes). */
async function runLoadUntil(base: URL, queries: string[], items: number, during: () => Promise<void>) {
  let done = false;
  const work = during().finally(() => (done = true));
  const reports = [];
  const deadline = Date.now() + 10 * 60_000;
  while (!done && Date.now() < deadline) reports.push(await runLoad(base, { clients: 8, seconds: 2, queries, items, versions: () => [], postOnly: true }));
  await work;
  const merged = reports.reduce((m, r) => {
    m.requests += r.requests;
    m.queries += r.queries;
    m.malformed += r.malformed;
    for (const [s, n] of Object.entries(r.statuses)) m.statuses[s] = (m.statuses[s] ?? 0) + n;
    m.answers.push(...r.answers);
    return m;
  }, { requests: 0, queries: 0, malformed: 0, statuses: {} as Record<string, number>, answers: [] as Answer[] });
  return merged;
}
