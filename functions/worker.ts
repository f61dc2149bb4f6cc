// Worker entry: routing, method checks, CORS and the last-resort error net.
// Nothing thrown below this file reaches the runtime as an uncaught exception.
import { configProblems, readConfig, type Env } from "./config.ts";
import { CORS_HEADERS, HttpError, errorResponse, toHttpError, withHeaders } from "./http.ts";
import { allowedOrigin, enforceOrigin, LIMITER_BINDINGS } from "./access.ts";
import { parseKeyRecords } from "./keys.ts";
import { guardKv } from "./kv-guard.ts";
import { page } from "./page.ts";
import { embedPost, examples, fields, healthz, searchGet, searchPost } from "./routes.ts";

type Handler = (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response>;

interface Route {
  methods: Record<string, Handler>;
  cors: boolean;
}

const ROUTES: Record<string, Route> = {
  "/": { methods: { GET: page, HEAD: page }, cors: false },
  "/healthz": { methods: { GET: healthz }, cors: false },
  "/examples": { methods: { GET: examples }, cors: false },
  "/fields": { methods: { GET: fields }, cors: true },
  "/search": { methods: { GET: searchGet, POST: searchPost }, cors: true },
  "/embed": { methods: { POST: embedPost }, cors: true },
};

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
  const problems = configProblems(env, LIMITER_BINDINGS, (e) => void parseKeyRecords(e.API_KEYS));
  if (problems.length === 0) return;
  for (const p of problems) {
    if (reported.has(p)) continue;
    reported.add(p);
    console.error(`configuration error: ${p}`);
  }
  throw new HttpError(503, "misconfigured", "the service is misconfigured; the operator has been told");
}

async function route(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  refuseMisconfigured(env);
  const { pathname } = new URL(request.url);
  const r = Object.hasOwn(ROUTES, pathname) ? ROUTES[pathname] : undefined;
  if (!r) throw new HttpError(404, "not_found", `no route for ${pathname}`);
  if (r.cors) enforceOrigin(request, readConfig(env));
  if (request.method === "OPTIONS" && r.cors) return new Response(null, { status: 204 });
  const handler = r.methods[request.method];
  if (!handler) {
    const allow = [...Object.keys(r.methods), ...(r.cors ? ["OPTIONS"] : [])].join(", ");
    throw new HttpError(405, "method_not_allowed", `${request.method} is not allowed on ${pathname}`, { Allow: allow });
  }
  return handler(request, env, ctx);
}

/** CORS for the API paths: the allowed origin (ALLOWED_ORIGINS), and Authorization for the /embed token. */
function corsHeaders(request: Request, env: Env): Record<string, string> {
  const origin = allowedOrigin(request, readConfig(env));
  const headers: Record<string, string> = { ...CORS_HEADERS, "Access-Control-Allow-Headers": "Content-Type, Authorization" };
  if (origin === null) delete headers["Access-Control-Allow-Origin"];
  else headers["Access-Control-Allow-Origin"] = origin;
  if (origin !== "*") headers.Vary = "Origin";
  return headers;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    let response: Response;
    let cors = false;
    try {
      const { pathname } = new URL(request.url);
      cors = Object.hasOwn(ROUTES, pathname) && ROUTES[pathname].cors;
      response = await route(request, { ...env, INDEX: guardKv(env.INDEX) }, ctx);
    } catch (err) {
      const httpErr = toHttpError(err);
      // 503s are expected states (publishing, KV lag) and get one line with their detail,
      // which clients never see (toHttpError gives them a generic message); a 500 is a bug and gets the stack.
      if (httpErr.status === 500) console.error(`${request.method} ${new URL(request.url).pathname} -> 500:`, err);
      else if (httpErr.status >= 500) console.warn(`${request.method} ${new URL(request.url).pathname} -> ${httpErr.status} ${httpErr.code}: ${err instanceof Error ? err.message : String(err)}`);
      // With PUBLIC_DIAGNOSTICS (local tests and benches) clients see the detail too.
      const detailed = httpErr.status === 503 && err instanceof Error && err.message !== httpErr.message && readConfig(env).publicDiagnostics;
      response = errorResponse(detailed ? new HttpError(503, httpErr.code, err.message, httpErr.headers) : httpErr);
    }
    // A refusal before the body was read (401, 403, 429) still reads it to the end: answering
    // first makes the runtime drop the connection, and a client reusing it sees a reset.
    if (request.body && !request.bodyUsed) await drain(request.body);
    // nosniff on every response: a JSON body echoing user text is never run as HTML or script.
    const always = { "X-Content-Type-Options": "nosniff" };
    return withHeaders(response, cors ? { ...corsHeaders(request, env), ...always } : always);
  },
} satisfies ExportedHandler<Env>;
