// Response conventions shared by every route: JSON bodies, CORS on the API
// paths, and the one exception type, HttpError, whose code comes from the
// catalog (errors.ts) that derives its status and Retry-After. Errors go out in
// the native envelope `{"error":{"code","message","param"?}}`, or, on
// POST /v1/embeddings, in OpenAI's `{"error":{"message","type","param","code"}}`.
import { ERRORS, errorSpec, isErrorCode, openAiErrorType, type ErrorCode } from "./errors.ts";

export interface HttpErrorOptions {
  /** The offending input, as a path into the request (`q`, `queries[2].filter.$or[0]`, `body`). */
  param?: string;
  /** Extra response headers (Allow, WWW-Authenticate). */
  headers?: Record<string, string>;
}

export class HttpError extends Error {
  readonly status: number;
  readonly param: string | undefined;
  readonly headers: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = ERRORS[code].status;
    this.param = options.param;
    this.headers = options.headers ?? {};
  }
}

export const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Allow-Headers": "Content-Type",
  "Access-Control-Expose-Headers": "Server-Timing, Deprecation, Sunset, Link, Retry-After",
  "Access-Control-Max-Age": "86400",
};

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers },
  });
}

/** Which error envelope a route answers with. */
export type Envelope = "native" | "openai";

export function errorResponse(err: HttpError, envelope: Envelope = "native"): Response {
  const retryAfter = errorSpec(err.code).retryAfter;
  const retry: Record<string, string> = retryAfter !== undefined ? { "Retry-After": String(retryAfter) } : {};
  const body =
    envelope === "openai"
      ? { error: { message: err.message, type: openAiErrorType(err.status), param: err.param ?? null, code: err.code } }
      : { error: { code: err.code, message: err.message, ...(err.param !== undefined ? { param: err.param } : {}) } };
  return json(body, err.status, { ...retry, ...err.headers });
}

export function withHeaders(res: Response, headers: Record<string, string>): Response {
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}

/** A coded error from lib or the model (IndexError, ModelError, FilterError) keeps its code; anything else is a bug: 500. */
export function toHttpError(err: unknown): HttpError {
  const e = typeof err === "object" && err !== null ? (err as { code?: unknown; path?: unknown }) : {};
  const code = err instanceof HttpError ? err.code : e.code;
  if (isErrorCode(code) && errorSpec(code).status === 503) {
    // The detail (KV key names, platform errors) goes to the logs and admin-scoped /healthz only.
    return new HttpError(code, code.endsWith("_corrupt") ? "a stored value failed its integrity check; the operator must republish" : "the service is temporarily unavailable; retry shortly", err instanceof HttpError ? { headers: err.headers } : {});
  }
  if (err instanceof HttpError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isErrorCode(e.code) && e.code !== "internal") {
    return new HttpError(e.code, message, typeof e.path === "string" ? { param: e.path } : {});
  }
  return new HttpError("internal", "internal error");
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
