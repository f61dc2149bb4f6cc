// Who may use the API, and how much: per-client rate limits (Workers Rate
// Limiting binding), the /embed bearer token, and the browser origins allowed.
import type { Config } from "./config.ts";
import { HttpError } from "./http.ts";

/** The `period` of every [[ratelimits]] binding in wrangler.toml: a limited client retries after it. */
export const RATE_LIMIT_PERIOD_SECONDS = 10;

/** Cloudflare sets CF-Connecting-IP at the edge (clients cannot forge it there); locally it may be absent. */
export function clientKey(request: Request): string {
  return request.headers.get("CF-Connecting-IP") ?? "local";
}

/** 429 with Retry-After when this client has used up its requests for the period. */
export async function enforceRateLimit(limiter: RateLimit | undefined, request: Request, what: string): Promise<void> {
  if (!limiter) return;
  const { success } = await limiter.limit({ key: clientKey(request) });
  if (!success) {
    throw new HttpError("rate_limited", `too many ${what} requests from this client; retry in ${RATE_LIMIT_PERIOD_SECONDS} s`, {
      headers: { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS) },
    });
  }
}

/** Equal-length comparison that does not stop at the first differing byte. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** With EMBED_TOKEN set, /embed needs `Authorization: Bearer <EMBED_TOKEN>`. */
export function requireEmbedToken(request: Request, config: Config): void {
  if (!config.embedToken) return;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("Authorization") ?? "");
  if (!m || !sameSecret(m[1], config.embedToken)) {
    throw new HttpError("unauthorized", "the embedding routes need an Authorization: Bearer token on this deployment", { headers: { "WWW-Authenticate": 'Bearer realm="embed"' } });
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
