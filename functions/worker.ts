// Worker entry: routing, method checks, CORS, deprecated aliases and the
// last-resort error net. Nothing thrown below this file reaches the runtime as
// an uncaught exception.
import { configProblems, readConfig, type Env } from "./config.ts";
import { CORS_HEADERS, HttpError, errorResponse, json, toHttpError, withHeaders, type Envelope } from "./http.ts";
import { allowedOrigin, enforceOrigin, LIMITER_BINDINGS } from "./access.ts";
import { checkKeyRecords } from "./keys.ts";
import { guardKv } from "./kv-guard.ts";
import { page } from "./page.ts";
import { embedPost, embeddingsPost, examples, fields, healthz, searchGet, searchPost, type Searcher } from "./routes.ts";
import { OPENAPI } from "./openapi.ts";
import { ALIASES, deprecationHeaders } from "./aliases.ts";

type Handler = (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response>;

export interface Route {
  methods: Record<string, Handler>;
  cors: boolean;
  /** Error envelope of the route: OpenAI's on /v1/embeddings, the native one elsewhere. */
  envelope: Envelope;
}

/** The routes, with the search handlers given (production: the index; functions/bench-entry.ts: brute force). */
export function routeTable(search?: Searcher): Record<string, Route> {
  const api = (methods: Record<string, Handler>, cors = true, envelope: Envelope = "native"): Route => ({ methods, cors, envelope });
  const v1: Record<string, Route> = {
    "/v1/search": api({ GET: searchGet(search), POST: searchPost(search) }),
    "/v1/embed": api({ POST: embedPost }),
    "/v1/embeddings": api({ POST: embeddingsPost }, true, "openai"),
    "/v1/fields": api({ GET: fields }),
    "/v1/examples": api({ GET: examples }, false),
    "/v1/healthz": api({ GET: healthz }, false),
    "/v1/openapi.json": api({ GET: async () => json(OPENAPI, 200, { "Cache-Control": "public, max-age=300" }) }),
  };
  const aliases = Object.fromEntries(Object.entries(ALIASES).map(([old, successor]) => [old, v1[successor]]));
  return { "/": { methods: { GET: page, HEAD: page }, cors: false, envelope: "native" }, ...v1, ...aliases };
}

async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  try {
    const reader = body.getReader();
    while (!(await reader.read()).done);
  } catch {
    // A body that fails to read has nothing left to drain.
  }
}

/** Problems already logged by this isolate, so a misconfigured deployment logs each once, not per request. */
const reported = new Set<string>();

/**
 * A deployment whose configuration would silently weaken it (no rate limits,
 * "*" from an empty ALLOWED_ORIGINS, unreadable API_KEYS) serves nothing:
 * loud in the logs, a generic 503 to clients.
 */
function refuseMisconfigured(env: Env): void {
  const problems = configProblems(env, LIMITER_BINDINGS, (e) => checkKeyRecords(e.API_KEYS));
  if (problems.length === 0) return;
  for (const p of problems) {
    if (reported.has(p)) continue;
    reported.add(p);
    console.error(`configuration error: ${p}`);
  }
  throw new HttpError("misconfigured", "the service is misconfigured; the operator has been told");
}

async function route(r: Route | undefined, pathname: string, request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  refuseMisconfigured(env);
  if (!r) throw new HttpError("not_found", `no route for ${pathname}`);
  if (r.cors) enforceOrigin(request, readConfig(env));
  if (request.method === "OPTIONS" && r.cors) return new Response(null, { status: 204 });
  const handler = r.methods[request.method];
  if (!handler) {
    const allow = [...Object.keys(r.methods), ...(r.cors ? ["OPTIONS"] : [])].join(", ");
    throw new HttpError("method_not_allowed", `${request.method} is not allowed on ${pathname}`, { headers: { Allow: allow } });
  }
  return handler(request, env, ctx);
}

/** CORS for the API paths: the allowed origin (ALLOWED_ORIGINS), and Authorization for the embedding token. */
function corsHeaders(request: Request, env: Env): Record<string, string> {
  const origin = allowedOrigin(request, readConfig(env));
  const headers: Record<string, string> = { ...CORS_HEADERS, "Access-Control-Allow-Headers": "Content-Type, Authorization" };
  if (origin === null) delete headers["Access-Control-Allow-Origin"];
  else headers["Access-Control-Allow-Origin"] = origin;
  if (origin !== "*") headers.Vary = "Origin";
  return headers;
}

/**
 * The error a client gets for `err`, logged: 503s are expected states (publishing,
 * KV lag) and get one line with their detail, which clients never see (toHttpError
 * gives them a generic message) unless PUBLIC_DIAGNOSTICS is on (local tests and
 * benches); a 500 is a bug and gets the stack.
 */
function logged(err: unknown, request: Request, env: Env): HttpError {
  const httpErr = toHttpError(err);
  const path = new URL(request.url).pathname;
  const detail = err instanceof Error ? err.message : String(err);
  if (httpErr.status === 500) console.error(`${request.method} ${path} -> 500:`, err);
  else if (httpErr.status >= 500) console.warn(`${request.method} ${path} -> ${httpErr.status} ${httpErr.code}: ${detail}`);
  const detailed = httpErr.status === 503 && detail !== httpErr.message && readConfig(env).publicDiagnostics;
  return detailed ? new HttpError(httpErr.code, detail, { headers: httpErr.headers }) : httpErr;
}

/** The Worker's fetch handler over a route table. */
export function createWorker(routes: Record<string, Route>): ExportedHandler<Env> {
  return {
    async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
      const { pathname } = new URL(request.url);
      const r = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
      let response: Response;
      try {
        response = await route(r, pathname, request, { ...env, INDEX: guardKv(env.INDEX) }, ctx);
      } catch (err) {
        response = errorResponse(logged(err, request, env), r?.envelope ?? "native");
      }
      // A refusal before the body was read (401, 403, 429) still reads it to the end: answering
      // first makes the runtime drop the connection, and a client reusing it sees a reset.
      if (request.body && !request.bodyUsed) await drain(request.body);
      // nosniff on every response: a JSON body echoing user text is never run as HTML or script.
      response = withHeaders(response, { "X-Content-Type-Options": "nosniff" });
      if (r?.cors) response = withHeaders(response, corsHeaders(request, env));
      if (Object.hasOwn(ALIASES, pathname)) response = withHeaders(response, deprecationHeaders(ALIASES[pathname]));
      return response;
    },
  };
}

export default createWorker(routeTable()) satisfies ExportedHandler<Env>;
