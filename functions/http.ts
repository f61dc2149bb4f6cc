// Response conventions shared by every route: JSON bodies, one error envelope
// `{"error":{"code","message"}}`, CORS on the API paths.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Allow-Headers": "Content-Type",
  "Access-Control-Expose-Headers": "Server-Timing",
  "Access-Control-Max-Age": "86400",
};

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers },
  });
}

/** Seconds a client should wait after a transient 503 (publishing, KV lag or outage, model loading). */
const RETRY_AFTER_SECONDS = "5";

export function errorResponse(err: HttpError): Response {
  // A value failing its checksum stays wrong until someone republishes: retrying will not help.
  const transient = err.status === 503 && !err.code.endsWith("_corrupt");
  const retry: Record<string, string> = transient ? { "Retry-After": RETRY_AFTER_SECONDS } : {};
  return json({ error: { code: err.code, message: err.message } }, err.status, { ...retry, ...err.headers });
}

export function withHeaders(res: Response, headers: Record<string, string>): Response {
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}

/** Index and model failures carry a machine-readable `code`; map those to 503. */
const UNAVAILABLE_CODES = new Set([
  "index_unavailable",
  "index_corrupt",
  "shard_missing",
  "shard_corrupt",
  "record_missing",
  "model_missing",
  "model_corrupt",
  "model_unavailable",
]);

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError && !(err.status === 503 && UNAVAILABLE_CODES.has(err.code))) return err;
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) {
    // The detail (KV key names, platform errors) goes to the logs and admin-scoped /healthz only.
    return new HttpError(503, code, code.endsWith("_corrupt") ? "a stored value failed its integrity check; the operator must republish" : "the service is temporarily unavailable; retry shortly");
  }
  return new HttpError(500, "internal", "internal error");
}

/** Server-Timing wants short tokens and milliseconds. */
export function serverTiming(entries: Record<string, number>): string {
  return Object.entries(entries)
    .map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`)
    .join(", ");
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
