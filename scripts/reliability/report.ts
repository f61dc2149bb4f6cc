// docs/reliability.md from the load test's figures.
import type { Figures } from "./figures.ts";

const table = (rows: Record<string, number>) =>
  Object.entries(rows)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");

export function markdown(f: Figures): string {
  if (!f.load || !f.memory || !f.hostile || !f.faults || !f.deploy) return `# Reliability\n\nThe load test did not complete:\n\n${f.failures.map((x) => "    " + x.split("\n")[0]).join("\n")}\n`;
  const l = f.load;
  const m = f.memory;
  const errors = Object.entries(l.statuses).filter(([s]) => s !== "200" && s !== "429");
  const parts = (b: (typeof m.afterBurstsMiB)[number]) => `JS ${b.jsHeap}${b.arrayBuffers !== undefined ? ` + ArrayBuffers ${b.arrayBuffers}` : ""} + wasm ${b.wasm}`;
  const bursts = m.afterBurstsMiB.map((b) => `${b.total} (${parts(b)})`).join(" → ");
  // The wasm heap never shrinks: any growth from one burst to the next would be for good.
  const wasmGrowth = Math.round((m.afterBurstsMiB[m.afterBurstsMiB.length - 1].wasm - m.afterBurstsMiB[0].wasm) * 10) / 10;
  const maxMem = Math.max(m.afterLoadMiB.total, ...m.afterBurstsMiB.map((b) => b.total));
  const h = f.hostile;
  const d = f.deploy;
  const lines = [
    "# Reliability: load, deploy under load, faults, hostile input, memory",
    "",
    `\`npm run loadtest -- --artifacts ${f.corpus.artifacts}\`: the Worker in local workerd on 127.0.0.1 with local KV, ${f.corpus.items} items (${f.corpus.shards} shards, version ${f.corpus.version}). Machine: ${f.machine}. Raw figures: [reliability.json](reliability.json).`,
    "",
    "## Load",
    "",
    `${l.seconds} s of closed-loop clients (each its own address, deployed rate limits on), k uniform in 1–100, 40 % GET, 35 % single POST, 25 % POST batches of 2–16 queries.`,
    "",
    "| requests | queries | req/s | queries/s | p50 | p99 | max | statuses | malformed 200s | cache hits |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    `| ${l.requests} | ${l.queries} | ${l.requestsPerSecond} | ${l.queriesPerSecond} | ${l.latencyMs.p50} ms | ${l.latencyMs.p99} ms | ${l.latencyMs.max} ms | ${table(l.statuses)} | ${l.malformed} | ${l.cacheHits} |`,
    "",
    `Errors other than 429: ${errors.length === 0 ? "none" : errors.map(([s, n]) => `${n} × ${s}`).join(", ")} (codes: ${table(l.errorCodes) || "none"}). Malformed answers (wrong k, unsorted, duplicate ids, wrong version): ${l.malformed}. Connections reset before an answer and re-sent: ${l.resets}.${l.malformedExamples.length ? " Examples: " + l.malformedExamples.join("; ") : ""}`,
    "",
    "## Batches run their searches concurrently",
    "",
    "A 16-query batch (fresh queries, nothing cached): the batch's search wall time against 16 such queries sent one at a time (the sum of their search times: what searching a batch's queries one after another costs). Median of 5.",
    "",
    "| KV latency added per read | batch of 16, wall | 16 one at a time, sum | speed-up |",
    "| --- | --- | --- | --- |",
    ...f.batch.map((b) => `| ${b.kvDelayMs} ms | ${b.batchWallMs} ms | ${b.sumOfQueriesMs} ms | ${b.speedUp}× |`),
    "",
    "## Deploy and rollback under load",
    "",
    `${d.corpus}; 8 clients (POST) throughout. Deploy ${d.deploySeconds} s, rollback ${d.rollbackSeconds} s. ${d.requests} requests (${d.queries} queries): **${d.failed} failed** (${table(d.statuses)}), ${d.malformed} malformed, answers by version ${table(d.answersByVersion)}, **${d.mixedVersions} mixing versions** (an answer differing from the others of its version for the same query and k, or holding items its version lacks).`,
    "",
    "## Faults",
    "",
    `Each run asks the same 40 queries (POST, k 10) and compares with the healthy store's answers; anything else must be a 503 with a code, never a different 200.`,
    "",
    "| run | answers |",
    "| --- | --- |",
    ...Object.entries(f.faults).map(([run, t]) => `| ${run} | ${table(t)} |`),
    "",
    "## Hostile input",
    "",
    `${h.cases} fast-check cases against the Worker (random unicode with lone surrogates, RTL marks and NUL; bodies up to 10 MB; JSON nested up to 200,000 deep; wrong types; repeated parameters; URLs up to 64 KB; floods of 16 maximal /embed calls): statuses ${table(h.statuses)}; violations ${h.violations.length}${h.violations.length ? ": " + h.violations.join("; ") : ""}; /healthz healthy afterwards: ${h.healthyAfter}; connections reset and re-sent: ${h.retriedAfterReset}. Per property: ${table(h.byProperty)}. The same properties run in the suite (test/worker-hostile.test.ts, 349 cases).`,
    ...costLines(f),
    "",
    "## Memory",
    "",
    `Isolate = JS heap after a full GC + ArrayBuffers (routing, cached shards, the resident records) + wasm heap. After the load: ${m.afterLoadMiB.total} MiB (${parts(m.afterLoadMiB)}).${m.resident ? ` Resident records: ${m.resident}.` : ""} After each of 3 bursts (${m.burst}): ${bursts} MiB. Highest ${maxMem} MiB (target ${m.limitMiB} MiB${maxMem > m.limitMiB ? `: **over by ${Math.round((maxMem - m.limitMiB) * 10) / 10} MiB**; functions/embed-budget.ts says what sets the wasm heap's high-water mark` : ""}).`,
    "",
    "## In short",
    "",
    `- Load: ${l.queriesPerSecond} queries/s (${l.requestsPerSecond} requests/s), p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms on a shared 2-core machine; ${errors.length === 0 ? "no" : errors.length} errors besides 429s, ${l.malformed} malformed answers.`,
    `- Deploy + rollback under load: ${d.failed} failed requests, ${d.mixedVersions} answers mixing versions.`,
    `- Faults: every corrupt, deleted or unreadable value gave a 503 with a code (\`*_corrupt\`, \`*_missing\`, \`index_unavailable\`) or the identical answer; never a different 200; restored, all identical.`,
    `- Hostile input: ${h.cases} cases, ${h.violations.length} violations, never a 5xx.`,
    `- Batches: ${f.batch.map((b) => `${b.speedUp}× faster than one query at a time with ${b.kvDelayMs} ms added per KV read`).join(", ")}.`,
    `- Memory: ${maxMem} MiB at most; wasm heap ${wasmGrowth === 0 ? "unchanged" : `grew ${wasmGrowth} MiB`} from the first burst to the third.`,
    "- One request costs at most (50k index, cache misses): per query 3 KV read operations (2 bulk reads of ≤ 100 shard keys, ≤ 320 KB, then 1 of ≤ 100 records), so 48 operations and 3,648 keys for a 16-query batch; CPU bounded by 4,096 tokens of embedding per request (~3.3 s for the largest legal /embed on this machine) plus ~10 ms of search per query. See the README, \"Limits, abuse and what one request can cost\".",
    "",
  ];
  return lines.join("\n");
}

/** Issue 24's costly-input probes, when the report has them. */
function costLines(f: Figures): string[] {
  const c = f.cost;
  if (!c) return [];
  return [
    "",
    `Costly input (issue 24: U+FDFA x 1,000 and other NFKC-expanding, long-run and astral texts as GET, POST, 16-query batches and 32-text /embed calls; filters nested 7, 100 and 100,000 deep): ${c.cases} requests, statuses ${table(c.statuses)}; violations ${c.violations.length}${c.violations.length ? ": " + c.violations.join("; ") : ""}; over 2 s: ${c.stalls} (slowest ${c.slowestMs} ms, ${c.slowest}). A bystander's query: ${c.bystander.usualMs} ms alone, ${c.bystander.duringMs} ms during ${c.bystander.during} (${c.bystander.ratio}x; target at most 2x), ${c.bystander.duringLegalMs} ms during ${c.bystander.duringLegal} (${c.bystander.legalRatio}x).`,
  ];
}
