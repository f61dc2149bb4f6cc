// Who may use the API, and how much: callers (an API key, or anonymous by IP),
// scopes, rate limits counted in cost units (Workers Rate Limiting bindings),
// and the browser origins allowed. docs/operations.md documents the units.
import type { Config, Env } from "./config.ts";
import { HttpError } from "./http.ts";
import { findKey, type ApiKey, type Scope } from "./keys.ts";

/** The `period` of every [[ratelimits]] binding in wrangler.toml: a limited client retries after it. */
export const RATE_LIMIT_PERIOD_SECONDS = 10;

/** The Rate Limiting bindings the Worker counts against; each must exist unless RATE_LIMITS = "off". */
export const LIMITER_BINDINGS = ["SEARCH_LIMITER", "EMBED_LIMITER", "KEY_LIMITER", "KEY_BULK_LIMITER"] as const;
type LimiterName = (typeof LIMITER_BINDINGS)[number];

/** Anonymous callers by network, keyed callers by key. */
export type Caller = { kind: "anonymous"; client: string } | { kind: "key"; key: ApiKey };

/**
 * The client an anonymous request is counted as. Cloudflare sets
 * CF-Connecting-IP at the edge (clients cannot forge it there); locally it may
 * be absent. An IPv6 client is its /64: one host usually holds the whole /64
 * and could otherwise take a fresh bucket per address.
 */
export function clientKey(request: Request): string {
  const ip = request.headers.get("CF-Connecting-IP");
  if (ip === null || ip === "") return "local";
  return ip.includes(":") ? ipv6Prefix64(ip) : ip;
}

/** The first four groups of an IPv6 address, expanded (so every spelling of one /64 is one key). */
export function ipv6Prefix64(ip: string): string {
  const address = ip.replace(/%.*$/, "").toLowerCase();
  const [head, tail] = address.includes("::") ? address.split("::", 2) : [address, undefined];
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail (::ffff:1.2.3.4) takes two groups.
  const groupsOf = (parts: string[]) => parts.reduce((n, p) => n + (p.includes(".") ? 2 : 1), 0);
  const zeros = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - groupsOf(front) - groupsOf(back))).fill("0");
  const groups = [...front, ...zeros, ...back].slice(0, 4).map((g) => (g.includes(".") ? g : (parseInt(g, 16) || 0).toString(16)));
  while (groups.length < 4) groups.push("0");
  return `${groups.join(":")}::/64`;
}

/**
 * Who is calling: the key of `Authorization: Bearer <key>`, or an anonymous
 * client. A header that names no known key is refused (401), never served as
 * anonymous: a backend with a revoked key should learn so at once.
 */
export async function identify(request: Request, env: Env): Promise<Caller> {
  const key = await findKey(request, env);
  if (key === undefined) return { kind: "anonymous", client: clientKey(request) };
  if (key === null) {
    throw new HttpError("invalid_key", "the Authorization header names no valid API key (send Authorization: Bearer <key>)", { headers: {
      "WWW-Authenticate": 'Bearer error="invalid_token"',
    } });
  }
  return { kind: "key", key };
}

/** A keyed caller must hold `scope`; anonymous callers are allowed unless `anonymous` says no. */
export function requireScope(caller: Caller, scope: Scope, anonymous: boolean): void {
  if (caller.kind === "anonymous") {
    if (anonymous) return;
    throw new HttpError("unauthorized", `this endpoint needs an API key with the "${scope}" scope (Authorization: Bearer <key>)`, { headers: {
      "WWW-Authenticate": `Bearer scope="${scope}"`,
    } });
  }
  if (!caller.key.scopes.has(scope)) {
    throw new HttpError("insufficient_scope", `this API key lacks the "${scope}" scope`, { headers: { "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${scope}"` } });
  }
}

/** What one query costs in rate-limit units: 1, +1 with a filter (more shards and values read), +1 for k above 50 (more records re-ranked). */
export function queryUnits(filtered: boolean, k: number): number {
  return 1 + (filtered ? 1 : 0) + (k > 50 ? 1 : 0);
}

/** Tokens of one model call (embed-budget.ts MODEL_CALL_TOKENS): a text's first call is in its base unit, each further one is a unit more. */
const TOKENS_PER_UNIT = 64;

/** The units texts add for their length: a headline adds none, a 1,000-character text of prose about two. */
export function tokenUnits(encodings: readonly (readonly number[])[]): number {
  return encodings.reduce((units, e) => units + Math.max(0, Math.ceil(e.length / TOKENS_PER_UNIT) - 1), 0);
}

/** The most units one charge counts (a request charges at most three times): what a full bucket of the anonymous limiter holds. */
const MAX_UNITS = 100;

function limiterFor(caller: Caller, kind: "search" | "embed"): LimiterName {
  if (caller.kind === "key") return caller.key.tier === "bulk" ? "KEY_BULK_LIMITER" : "KEY_LIMITER";
  return kind === "embed" ? "EMBED_LIMITER" : "SEARCH_LIMITER";
}

/**
 * Charges `units` to the caller's bucket, or 429 with Retry-After when it has not
 * that many left this period. The binding counts one per call, so a charge of n
 * is n calls (they answer from the local data centre's counter), stopping at
 * the first refused.
 */
export async function charge(env: Env, config: Pick<Config, "rateLimitsRequired">, caller: Caller, kind: "search" | "embed", units: number): Promise<void> {
  if (units <= 0) return;
  const name = limiterFor(caller, kind);
  const limiter = env[name] as RateLimit | undefined;
  if (!limiter) {
    if (!config.rateLimitsRequired) return;
    // configProblems() refuses every request first; this is the second net.
    throw new HttpError("misconfigured", "the service is misconfigured; the operator has been told");
  }
  const bucket = caller.kind === "key" ? `key:${caller.key.name}` : `ip:${caller.client}`;
  const n = Math.min(units, MAX_UNITS);
  // One after another: calls in flight together may all read the same count.
  let allowed = true;
  for (let i = 0; i < n && allowed; i++) allowed = (await limiter.limit({ key: bucket })).success;
  if (!allowed) {
    const who = caller.kind === "key" ? `API key ${caller.key.name}` : "this client";
    throw new HttpError("rate_limited", `too many ${kind} requests (${n} units) from ${who}; retry in ${RATE_LIMIT_PERIOD_SECONDS} s`, { headers: {
      "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS),
    } });
  }
}

/** The Access-Control-Allow-Origin to send, or null when the request's origin is not allowed. */
export function allowedOrigin(request: Request, config: Config): string | null {
  if (config.allowedOrigins === "*") return "*";
  const origin = request.headers.get("Origin");
  if (origin === null) return null;
  // The Worker's own page (GET /) always may.
  return config.allowedOrigins.includes(origin) || origin === new URL(request.url).origin ? origin : null;
}

/**
 * A browser request from an origin not allowed is refused before any work: CORS
 * alone would only hide the answer from the page, not spare the KV reads and CPU.
 */
export function enforceOrigin(request: Request, config: Config): void {
  if (request.headers.get("Origin") !== null && allowedOrigin(request, config) === null) {
    throw new HttpError("origin_not_allowed", "this origin may not call the API (ALLOWED_ORIGINS)");
  }
}
