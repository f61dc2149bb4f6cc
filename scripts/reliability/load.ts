// Closed-loop HTTP clients for npm run loadtest: mixed k (1-100), single GETs,
// single POSTs and batches (2-16 queries), each client its own address
// (CF-Connecting-IP) so the per-client rate limits apply as in production. Every
// 200 is checked: k results (or all items), sorted by score, no duplicate ids,
// and the version expected at the time.
import { rng } from "../builder/training/kernels.ts";
import { percentile } from "../bench/stats.ts";

export interface LoadOptions {
  clients: number;
  seconds: number;
  queries: readonly string[];
  items: number;
  /** Versions an answer may carry; [] checks none (the caller checks afterwards). */
  versions: () => readonly string[];
  /** POST only (no edge cache), for comparing answers across versions. */
  postOnly?: boolean;
  seed?: number;
}

export interface Answer {
  q: string;
  k: number;
  version: string;
  ids: string[];
}

export interface LoadReport {
  requests: number;
  queries: number;
  seconds: number;
  requestsPerSecond: number;
  queriesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  statuses: Record<string, number>;
  errorCodes: Record<string, number>;
  malformed: number;
  malformedExamples: string[];
  cacheHits: number;
  /** Requests whose connection was reset before any answer, sent once more. */
  resets: number;
  answers: Answer[];
}

type Result = { query: string; k: number; results: Array<{ id: string; score: number }>; index: { version: string; items: number } };

/** Nearest-rank percentile, 0 when there are no samples (the report's JSON holds no NaN). */
const percentileOr0 = (sorted: number[], p: number): number => (sorted.length === 0 ? 0 : percentile(sorted, p));

/** What is wrong with one result object, or undefined. */
export function malformation(r: Result, q: string, k: number, items: number, versions: readonly string[]): string | undefined {
  if (r.query !== q) return `query ${JSON.stringify(r.query)} != ${JSON.stringify(q)}`;
  if (r.k !== k) return `k ${r.k} != ${k}`;
  if (versions.length > 0 && !versions.includes(r.index?.version)) return `version ${r.index?.version} not in ${versions.join(",")}`;
  if (!Array.isArray(r.results) || r.results.length !== Math.min(k, items)) return `${r.results?.length} results for k=${k}`;
  for (let i = 1; i < r.results.length; i++) if (r.results[i].score > r.results[i - 1].score) return `unsorted at rank ${i}`;
  if (new Set(r.results.map((h) => h.id)).size !== r.results.length) return "duplicate ids";
  return undefined;
}

type Body = (Result & { answers?: Array<Pick<Result, "query" | "results">>; error?: { code: string } }) | undefined;

/** Sends once more when the connection was reset before any answer (a kept-alive socket the server closed); undefined when it failed twice. */
async function sendWithRetry(send: () => Promise<Response>, report: LoadReport, bad: (why: string) => void): Promise<Response | undefined> {
  try {
    return await send();
  } catch {
    report.resets++;
    try {
      return await send();
    } catch (e) {
      report.statuses["no answer"] = (report.statuses["no answer"] ?? 0) + 1;
      bad(`no answer: ${String((e as Error).cause ?? e)}`);
      return undefined;
    }
  }
}

/** Counts one answer and checks every result in it. */
function recordAnswer(res: Response, body: Body, batch: string[], k: number, o: LoadOptions, report: LoadReport, bad: (why: string) => void): void {
  report.requests++;
  report.queries += batch.length;
  report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
  if (res.headers.get("x-search-cache") === "hit") report.cacheHits++;
  if (res.status !== 200) {
    const code = body?.error?.code ?? "no_envelope";
    report.errorCodes[code] = (report.errorCodes[code] ?? 0) + 1;
    return;
  }
  // A batch answers with its own shape: k and index once, one entry of `answers` per query.
  const results = (batch.length === 1 ? [body] : (body?.answers ?? []).map((a) => ({ ...a, k: body!.k, index: body!.index }))) as Result[];
  if (results.length !== batch.length) bad(`batch of ${batch.length} answered ${results.length}`);
  results.forEach((r, i) => {
    const why = malformation(r, batch[i], k, o.items, o.versions());
    if (why) bad(why);
    else report.answers.push({ q: batch[i], k, version: r.index.version, ids: r.results.map((h) => h.id) });
  });
}

export async function runLoad(base: URL, o: LoadOptions): Promise<LoadReport> {
  const report: LoadReport = { requests: 0, queries: 0, seconds: o.seconds, requestsPerSecond: 0, queriesPerSecond: 0, latencyMs: { p50: 0, p99: 0, max: 0 }, statuses: {}, errorCodes: {}, malformed: 0, malformedExamples: [], cacheHits: 0, resets: 0, answers: [] };
  const latencies: number[] = [];
  const deadline = Date.now() + o.seconds * 1000;
  const bad = (why: string) => {
    report.malformed++;
    if (report.malformedExamples.length < 10) report.malformedExamples.push(why);
  };
  const client = async (c: number) => {
    const random = rng((o.seed ?? 1) * 1000 + c);
    const pick = () => o.queries[Math.floor(random() * o.queries.length)];
    const headers = { "Content-Type": "application/json", "CF-Connecting-IP": `10.0.${c >> 8}.${c & 255}` };
    while (Date.now() < deadline) {
      const k = 1 + Math.floor(random() * 100);
      const kind = random();
      const batch = kind < 0.25 ? Array.from({ length: 2 + Math.floor(random() * 15) }, pick) : [pick()];
      const t0 = performance.now();
      const send = () =>
        batch.length === 1 && kind < 0.65 && !o.postOnly
          ? fetch(new URL(`/v1/search?q=${encodeURIComponent(batch[0])}&k=${k}`, base), { headers })
          : fetch(new URL("/v1/search", base), { method: "POST", headers, body: JSON.stringify(batch.length === 1 ? { q: batch[0], k } : { queries: batch, k }) });
      const res = await sendWithRetry(send, report, bad);
      if (!res) continue;
      const body = (await res.json().catch(() => undefined)) as Body;
      latencies.push(performance.now() - t0);
      recordAnswer(res, body, batch, k, o, report, bad);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  report.seconds = Math.round(seconds * 10) / 10;
  report.requestsPerSecond = Math.round((report.requests / seconds) * 10) / 10;
  report.queriesPerSecond = Math.round((report.queries / seconds) * 10) / 10;
  report.latencyMs = { p50: Math.round(percentileOr0(latencies, 0.5)), p99: Math.round(percentileOr0(latencies, 0.99)), max: Math.round(latencies[latencies.length - 1] ?? 0) };
  return report;
}
