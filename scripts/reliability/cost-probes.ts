// Issue 24's costly requests against the Worker over HTTP, for npm run loadtest
// and the tests: the hostile texts (scripts/reliability/hostile-inputs.ts) as
// GET and POST queries, 16-query batches and /embed calls, and filters nested
// far too deep. Every answer must be a 2xx or a 4xx envelope, and
// none may take over 2 s; a bystander's ordinary query sent while the costliest
// legal batches run should answer within 2x its usual latency (reported, judged
// by the caller).
import { deepFilterBody, hostileTexts } from "./hostile-inputs.ts";

export type Fetch = (pathOrUrl: string, init?: RequestInit) => Promise<Response>;

export interface CostReport {
  cases: number;
  statuses: Record<string, number>;
  /** Answers that broke the rule (a 5xx, or not the error envelope). */
  violations: string[];
  slowestMs: number;
  slowest: string;
  /** Requests sent alone that took over STALL_MS. */
  stalls: number;
  /** Median of an ordinary POST /search alone, and the same sent while `during` ran. */
  bystander: { usualMs: number; duringMs: number; ratio: number; during: string; duringLegalMs: number; legalRatio: number; duringLegal: string };
}

export const STALL_MS = 2000;
const json = (body: string): RequestInit => ({ method: "POST", headers: { "Content-Type": "application/json" }, body });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

type Probe = (label: string, path: string, init?: RequestInit, alone?: boolean) => Promise<void>;

/** One request, timed and checked against the rule; `alone`: a stall counts only for a request that ran by itself. */
function prober(fetch: Fetch, r: CostReport): Probe {
  return async (label, path, init, alone = true) => {
    const t0 = performance.now();
    const res = await fetch(path, init);
    const text = await res.text();
    const ms = performance.now() - t0;
    r.cases++;
    r.statuses[res.status] = (r.statuses[res.status] ?? 0) + 1;
    if (alone && ms > r.slowestMs) [r.slowestMs, r.slowest] = [Math.round(ms), label];
    if (alone && ms > STALL_MS) r.stalls++;
    let envelope = res.status < 400;
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown } };
      envelope ||= typeof body.error?.code === "string";
    } catch {
      envelope = false;
    }
    if (res.status >= 500 || !envelope) r.violations.push(`${label}: ${res.status} ${text.slice(0, 120)}`);
  };
}

/** The hostile texts in every form, and the deep filters. */
async function hostileRequests(probe: Probe): Promise<void> {
  const { refused, legal } = hostileTexts();
  for (const h of [...refused, ...legal]) {
    await probe(`GET /search ${h.name}`, `/v1/search?q=${encodeURIComponent(h.text)}&k=10`);
    await probe(`POST /search ${h.name}`, "/v1/search", json(JSON.stringify({ q: h.text, k: 100 })));
    await probe(`POST /search 16 x ${h.name}`, "/v1/search", json(JSON.stringify({ queries: Array(16).fill(h.text), k: 100 })));
    await probe(`POST /embed 32 x ${h.name}`, "/v1/embed", json(JSON.stringify({ texts: Array(32).fill(h.text) })));
  }
  for (const depth of [7, 100, 100_000]) {
    await probe(`POST /search filter nested ${depth} deep`, "/v1/search", json(deepFilterBody("rain", depth)));
    await probe(`POST /search batch, filter nested ${depth} deep`, "/v1/search", json(`{"queries":[{"q":"rain","filter":${"[".repeat(depth)}${"]".repeat(depth)}}]}`));
  }
  let or = '{"publish_date":{"$gte":"2003-01-01"}}';
  for (let i = 0; i < 8; i++) or = `{"$or":[${or}]}`;
  await probe("GET /search $or nested 8 deep", `/v1/search?q=rain&filter=${encodeURIComponent(or)}`);
}

/**
 * An ordinary query's median latency alone, then while costly batches run (four
 * at once each time): the 16 x U+FDFA x 1,000 (refused now) and the
 * costliest legal batch (16 texts that together just fit the search token budget).
 */
async function bystander(fetch: Fetch, probe: Probe, runs: number): Promise<CostReport["bystander"]> {
  const ordinary = () => json(JSON.stringify({ q: `drought hits farmers ${Math.random()}`, k: 10 }));
  const timed = async () => {
    const t0 = performance.now();
    await (await fetch("/v1/search", ordinary())).arrayBuffer();
    return performance.now() - t0;
  };
  const usual: number[] = [];
  for (let i = 0; i < runs; i++) usual.push(await timed());
  const during = async (label: string, body: string) => {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const batches = Array.from({ length: 4 }, () => probe(label, "/v1/search", json(body), false));
      await new Promise((res) => setTimeout(res, 5));
      ms.push(await timed());
      await Promise.all(batches);
    }
    return median(ms);
  };
  const round = (x: number) => Math.round(x * 10) / 10;
  const usualMs = median(usual);
  const hostileMs = await during("POST /search 16 x U+FDFA x 1000 (bystander)", JSON.stringify({ queries: Array(16).fill("\uFDFA".repeat(1000)), k: 100 }));
  const legalMs = await during("POST /search costliest legal batch", JSON.stringify({ queries: Array.from({ length: 16 }, (_, i) => `${i} ` + "a".repeat(240)), k: 100 }));
  return {
    usualMs: round(usualMs),
    duringMs: round(hostileMs),
    ratio: Math.round((hostileMs / usualMs) * 100) / 100,
    during: "4 concurrent POST batches of 16 x U+FDFA x 1,000, k 100",
    duringLegalMs: round(legalMs),
    legalRatio: Math.round((legalMs / usualMs) * 100) / 100,
    duringLegal: "4 concurrent POST batches of 16 texts of 242 characters (~1,000 tokens, the search budget), k 100",
  };
}

export async function runCostProbes(fetch: Fetch, opts: { bystanderRuns?: number } = {}): Promise<CostReport> {
  const r: CostReport = { cases: 0, statuses: {}, violations: [], slowestMs: 0, slowest: "", stalls: 0, bystander: { usualMs: 0, duringMs: 0, ratio: 0, during: "", duringLegalMs: 0, legalRatio: 0, duringLegal: "" } };
  const probe = prober(fetch, r);
  await hostileRequests(probe);
  r.bystander = await bystander(fetch, probe, opts.bystanderRuns ?? 5);
  return r;
}
