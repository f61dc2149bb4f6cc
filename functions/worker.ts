// Worker entry: routing, method checks, CORS and the last-resort error net.
// Nothing thrown below this file reaches the runtime as an uncaught exception.
import { readConfig, type Env } from "./config.ts";
import { CORS_HEADERS, HttpError, errorResponse, toHttpError, withHeaders } from "./http.ts";
import { allowedOrigin, enforceOrigin } from "./access.ts";
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
  "/healthz": { methods: { GET: (_r, env, ctx) => healthz(env, ctx) }, cors: false },
  "/examples": { methods: { GET: (_r, env, ctx) => examples(env, ctx) }, cors: false },
  "/fields": { methods: { GET: (_r, env, ctx) => fields(env, ctx) }, cors: true },
  "/search": { methods: { GET: searchGet, POST: searchPost }, cors: true },
  "/embed": { methods: { POST: embedPost }, cors: true },
};

async function route(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
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
      // 503s are expected states (publishing, KV lag) and get one line; a 500 is a bug and gets the stack.
      if (httpErr.status === 500) console.error(`${request.method} ${request.url} -> 500:`, err);
      else if (httpErr.status >= 500) console.warn(`${request.method} ${request.url} -> ${httpErr.status} ${httpErr.code}: ${httpErr.message}`);
      response = errorResponse(httpErr);
    }
    return cors ? withHeaders(response, corsHeaders(request, env)) : response;
  },
} satisfies ExportedHandler<Env>;
