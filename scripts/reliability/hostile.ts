// Hostile input as property-based tests (fast-check) against the Worker over
// HTTP: random unicode (lone surrogates, RTL marks, NUL), bodies up to 10 MB, deep
// JSON nesting, wrong types, repeated parameters, very long URLs, floods of
// maximal /embed calls. Every answer must be a 2xx, or a 4xx whose body is the
// JSON error envelope with a code; never a 5xx; /v1/healthz healthy afterwards.
// Shared by test/worker-hostile.test.ts and npm run loadtest.
import fc from "fast-check";

export type Fetch = (pathOrUrl: string, init?: RequestInit) => Promise<Response>;

export interface HostileReport {
  cases: number;
  byProperty: Record<string, number>;
  statuses: Record<string, number>;
  /** Answers that broke the rule (first few), empty when all held. */
  violations: string[];
  healthyAfter: boolean;
  /** Requests whose connection was reset before any answer and that were sent once more. */
  retriedAfterReset: number;
}

/** One character of anything: any code point (lone surrogates included), NUL, bidi controls, BOM. */
const hostileChar = fc.oneof(
  fc.constantFrom("\u0000", "\u202e", "\u200f", "\u061c", "\ufeff", "\ud800", "\udfff", "\uffff", "\n", "\"", "\\", "&", "=", "%"),
  fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)),
);
const hostileString = (maxLength: number) => fc.string({ unit: hostileChar, maxLength });

/** Percent-encodes UTF-16 without throwing on lone surrogates (as raw bytes a browser might send), or arbitrary bytes. */
function percentEncode(s: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) out += "%" + byte.toString(16).padStart(2, "0");
  return out;
}
const rawBytesParam = fc.uint8Array({ maxLength: 64 }).map((b) => [...b].map((x) => "%" + x.toString(16).padStart(2, "0")).join(""));

/** Nested arrays/objects `depth` deep, as text (JSON.stringify would recurse as deep). */
function deepJson(depth: number, kind: "array" | "object"): string {
  return kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : '{"q":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** Filters that are nearly right: real and unknown fields, real and made-up operators, values of every type, $or at any depth. */
const filterValue = fc.oneof(fc.constantFrom("2003-03-01", "20030301", "2003-03-01T12:00:00Z", "2003-02-30", "", "-1"), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), hostileString(12));
const filterCondition = fc.oneof(
  filterValue,
  fc.dictionary(fc.constantFrom("$eq", "$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$or", "$regex", "eq"), fc.oneof(filterValue, fc.array(filterValue, { maxLength: 6 })), { maxKeys: 3 }),
);
const filterObject = fc.letrec((tie) => ({
  filter: fc.dictionary(fc.constantFrom("publish_date", "source", "$or", "$and", "__proto__", "constructor", ""), fc.oneof(filterCondition, fc.array(tie("filter"), { maxLength: 3 })), { maxKeys: 3 }),
})).filter;
const hostileFilter = fc.oneof({ weight: 4, arbitrary: filterObject }, { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) });

const wrongTyped = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), hostileString(40), fc.array(fc.anything(), { maxLength: 4 }), fc.object({ maxDepth: 2 }));

interface Checker {
  check(label: string, send: () => Promise<Response>): Promise<void>;
  report: HostileReport;
}

function checker(): Checker {
  const report: HostileReport = { cases: 0, byProperty: {}, statuses: {}, violations: [], healthyAfter: false, retriedAfterReset: 0 };
  return {
    report,
    async check(label, send) {
      report.cases++;
      let res: Response;
      try {
        res = await send().catch(() => {
          // A kept-alive socket the server closed while idle is the client's artifact: sent once more, and counted.
          report.retriedAfterReset++;
          return send();
        });
      } catch (e) {
        if (report.violations.length < 20) report.violations.push(`${label}: no HTTP answer: ${String(e)} ${String((e as Error).cause ?? "")}`);
        throw new Error(`${label}: no HTTP answer: ${String((e as Error).cause ?? e)}`);
      }
      report.byProperty[label] = (report.byProperty[label] ?? 0) + 1;
      report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
      const text = await res.text();
      let problem: string | undefined;
      if (res.status >= 500) problem = "5xx";
      else if (res.status >= 400) {
        try {
          const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          if (typeof body.error?.code !== "string" || typeof body.error?.message !== "string" || Object.keys(body).length !== 1) problem = "not the error envelope";
        } catch {
          problem = "4xx body is not JSON";
        }
      } else if (res.status < 200 || res.status >= 300) problem = "neither 2xx nor 4xx";
      if (problem) {
        if (report.violations.length < 20) report.violations.push(`${label}: ${res.status} ${problem}: ${text.slice(0, 200)}`);
        throw new Error(`${label}: ${res.status} ${problem}`);
      }
    },
  };
}

const post = (body: BodyInit, headers: Record<string, string> = { "Content-Type": "application/json" }): RequestInit => ({ method: "POST", body, headers });

type RunOptions = { numRuns: number; seed: number; endOnFailure: boolean };

/** GET and POST /v1/search with random, repeated, overlong, wrongly typed input and random filters. */
async function searchProperties(fetch: Fetch, c: Checker, opts: RunOptions, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.oneof(hostileString(1200).map(percentEncode), rawBytesParam), fc.oneof(fc.integer({ min: 1, max: 100 }).map(String), hostileString(6).map(percentEncode), fc.integer().map(String)), async (q, k) =>
      c.check("GET /search random q and k", () => fetch(`/v1/search?q=${q}&k=${k}`)),
    ),
    opts,
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom("q", "k", "exact", "Q", ""), hostileString(20).map(percentEncode)), { maxLength: 12 }), async (pairs) =>
      c.check("GET /search repeated parameters", () => fetch(`/v1/search?${pairs.map(([n, v]) => `${n}=${v}`).join("&")}`)),
    ),
    opts,
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2_000, max: 64_000 }), async (n) => c.check("GET /search very long URL", () => fetch(`/v1/search?q=${"a".repeat(n)}&k=1`))),
    { ...opts, numRuns: Math.max(5, runs >> 3) },
  );
  await fc.assert(
    fc.asyncProperty(fc.record({ q: wrongTyped, k: wrongTyped, queries: fc.oneof(wrongTyped, fc.array(fc.oneof(hostileString(200), wrongTyped), { maxLength: 20 })) }, { requiredKeys: [] }), async (body) =>
      c.check("POST /search wrong types", () => fetch("/v1/search", post(JSON.stringify(body)))),
    ),
    opts,
  );
  await fc.assert(
    fc.asyncProperty(hostileFilter, async (filter) => {
      await c.check("POST /search random filters", () => fetch("/v1/search", post(JSON.stringify({ q: "rain", k: 5, filter }))));
      await c.check("GET /search random filters", () => fetch(`/v1/search?q=rain&k=5&filter=${percentEncode(JSON.stringify(filter) ?? "")}`));
    }),
    opts,
  );
}

/** /v1/embed's random texts, deep nesting, big bodies and random bytes on both POST routes. */
async function bodyProperties(fetch: Fetch, c: Checker, opts: RunOptions, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.record({ texts: fc.oneof(wrongTyped, fc.array(fc.oneof(hostileString(1000), wrongTyped), { maxLength: 40 })) }), async (body) =>
      c.check("POST /embed random texts", () => fetch("/v1/embed", post(JSON.stringify(body)))),
    ),
    opts,
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 100, max: 200_000 }), fc.constantFrom("array" as const, "object" as const), fc.constantFrom("/v1/search", "/v1/embed"), async (depth, kind, path) =>
      c.check("POST deep JSON nesting", () => fetch(path, post(deepJson(depth, kind)))),
    ),
    { ...opts, numRuns: Math.max(5, runs >> 2) },
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 10 * 2 ** 20 }), fc.constantFrom("/v1/search", "/v1/embed"), fc.constantFrom("application/json", "text/plain", ""), async (size, path, type) =>
      c.check("POST bodies up to 10 MB", () => fetch(path, post("x".repeat(size), type ? { "Content-Type": type } : {}))),
    ),
    { ...opts, numRuns: Math.max(5, runs >> 3) },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.constantFrom("/v1/search", "/v1/embed"), async (bytes, path) => c.check("POST random bytes", () => fetch(path, post(bytes)))),
    opts,
  );
}

/**
 * Runs every property with `runs` cases each (big bodies and floods fewer), then
 * asks /healthz. Rejects on the first violation, with the counterexample.
 */
export async function runHostileProperties(fetch: Fetch, runs: number, opts0: { seed?: number; legalFlood?: number } = {}): Promise<HostileReport> {
  const seed = opts0.seed ?? 9;
  const c = checker();
  const opts = { numRuns: runs, seed, endOnFailure: true };
  await searchProperties(fetch, c, opts, runs);
  await bodyProperties(fetch, c, opts, runs);
  // Floods: 16 maximal /embed calls at once (32 texts of 1,000 characters: over the token budget), then `legalFlood` of the largest legal size.
  for (const [texts, calls] of [[32, 16], [20, opts0.legalFlood ?? 16]]) {
    const body = JSON.stringify({ texts: Array.from({ length: texts }, (_, i) => `flood ${i} ` + "word ".repeat(198)) });
    await Promise.all(Array.from({ length: calls }, () => c.check("POST /embed flood", () => fetch("/v1/embed", post(body)))));
  }
  const health = await fetch("/v1/healthz").catch(() => fetch("/v1/healthz"));
  c.report.healthyAfter = health.status === 200 && ((await health.json()) as { status?: string }).status === "ok";
  return c.report;
}
