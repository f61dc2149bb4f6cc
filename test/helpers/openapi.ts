// Checks a Worker response against the OpenAPI document (functions/openapi.ts):
// the documented status for the path and method (or `default`), the required
// headers, the content type and the body against the response's JSON Schema
// (2020-12, as OpenAPI 3.1 uses it). The Worker test fixtures run every response
// they receive through here; each process counts them and the global teardown
// prints the total (test/helpers/global-setup.ts).
import { appendFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { OPENAPI } from "../../functions/openapi.ts";

const DOC_ID = "openapi.json";
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(OPENAPI as unknown as object, DOC_ID);

const compiled = new Map<string, ValidateFunction>();
function validator(pointer: string): ValidateFunction {
  let v = compiled.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
    compiled.set(pointer, v);
  }
  return v;
}

const escape = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");

interface DocResponse {
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, unknown>;
}
type Paths = Record<string, Record<string, { responses: Record<string, DocResponse> }>>;
const paths = OPENAPI.paths as unknown as Paths;

/** Responses this process validated, by path template. */
const counts = new Map<string, number>();
let total = 0;

export function validatedResponses(): number {
  return total;
}

/**
 * Where the global setup collects the counts (set through the environment it
 * passes down): one line per validated response, written at once, since a test
 * process may be ended without running its exit handlers.
 */
export const COUNT_FILE_ENV = "OPENAPI_COUNT_FILE";

export class ContractError extends Error {}

/** Throws ContractError when the response breaks the document; `body` is the response's text. */
export function validateResponse(method: string, url: string | URL, status: number, headers: Headers, body: string): void {
  const { pathname } = new URL(url, "http://x");
  const where = `${method} ${pathname} -> ${status}`;
  const fail = (why: string): never => {
    throw new ContractError(`OpenAPI contract: ${where}: ${why}\nbody: ${body.slice(0, 500)}`);
  };
  const m = method.toLowerCase();
  const item = Object.hasOwn(paths, pathname) ? paths[pathname] : undefined;
  if (m === "options") {
    // CORS preflight: outside the document's operations, but it has a shape too.
    if (!(status === 204 && body === "") && status < 400) fail("a preflight answers 204 with no body");
    if (status < 400) return count(pathname);
  }
  const op = item?.[m === "head" ? "get" : m];
  let pointer: string;
  let response: DocResponse;
  if (!op) {
    // No such operation: only an error may come back, in the route's envelope.
    if (status < 400) fail("no operation documented for this method and path, yet not an error");
    const envelope = pathname === "/v1/embeddings" ? "OpenAIError" : "Error";
    pointer = `/components/schemas/${envelope}`;
    response = { content: { "application/json": {} } };
  } else {
    const key = Object.hasOwn(op.responses, String(status)) ? String(status) : "default";
    if (!Object.hasOwn(op.responses, key)) fail(`status ${status} is not documented`);
    if (key === "default" && status < 400) fail(`status ${status} is not documented (only errors fall to default)`);
    response = op.responses[key];
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      if (h.required && headers.get(name) === null) fail(`required header ${name} is missing`);
    }
    pointer = `/paths/${escape(pathname)}/${m === "head" ? "get" : m}/responses/${key}`;
  }
  const type = (headers.get("content-type") ?? "").split(";")[0].trim();
  if (!response.content) {
    if (body !== "") fail("a body where none is documented");
    return count(pathname);
  }
  if (!Object.hasOwn(response.content, type)) fail(`content type "${type}" is not documented (${Object.keys(response.content).join(", ")})`);
  if (m === "head") return count(pathname);
  if (type !== "application/json") return count(pathname);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    fail("body is not JSON");
  }
  const v = op ? validator(`${pointer}/content/${escape(type)}/schema`) : validator(pointer);
  if (!v(parsed)) fail(ajv.errorsText(v.errors, { separator: "\n  " }));
  return count(pathname);
}

function count(pathname: string): void {
  total++;
  const file = process.env[COUNT_FILE_ENV];
  if (file) appendFileSync(file, `${pathname}\n`);
  counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
}

/**
 * A request the Worker accepted (2xx) must be one the document allows: a JSON
 * body it answered must validate against the operation's request schema, or
 * the code accepts more than the contract says.
 */
export function validateAcceptedRequest(method: string, url: string | URL, status: number, body: unknown): void {
  if (status < 200 || status >= 300 || typeof body !== "string" || body === "") return;
  const { pathname } = new URL(url, "http://x");
  const m = method.toLowerCase();
  const op = Object.hasOwn(paths, pathname) ? (paths[pathname][m] as { requestBody?: { content?: Record<string, unknown> } } | undefined) : undefined;
  if (!op?.requestBody?.content?.["application/json"]) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ContractError(`OpenAPI contract: ${method} ${pathname} -> ${status}: accepted a body that is not JSON`);
  }
  const v = validator(`/paths/${escape(pathname)}/${m}/requestBody/content/application~1json/schema`);
  if (!v(parsed)) throw new ContractError(`OpenAPI contract: ${method} ${pathname} -> ${status}: accepted a request the document forbids: ${ajv.errorsText(v.errors)}\nrequest: ${body.slice(0, 300)}`);
}

/** Reads a Response's body once, validates it, and hands back an equivalent unread Response. */
export async function checkedResponse(method: string, url: string | URL, res: Response, requestBody?: unknown): Promise<Response> {
  const text = await res.text();
  validateResponse(method, url, res.status, res.headers, text);
  validateAcceptedRequest(method, url, res.status, requestBody);
  // A null-body status (204, 304) may not be given a body, even an empty one.
  const nullBody = [101, 204, 205, 304].includes(res.status);
  return new Response(nullBody ? null : text, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** The worker's fetch and dispatchFetch, every response validated on the way (a contract break fails the test). */
export function validating<W extends { fetch(p: string, init?: RequestInit): Promise<Response>; dispatchFetch: (...a: any[]) => Promise<any> }>(worker: W): W {
  return {
    ...worker,
    fetch: async (p: string, init?: RequestInit) => checkedResponse(init?.method ?? "GET", p, await worker.fetch(p, init), init?.body),
    dispatchFetch: (async (input: any, init?: any) => {
      const res = await worker.dispatchFetch(input, init);
      const url = typeof input === "string" || input instanceof URL ? input : input.url;
      const text = await res.text();
      validateResponse(init?.method ?? (typeof input === "object" && "method" in input ? input.method : "GET"), url, res.status, res.headers, text);
      return new (res.constructor as typeof Response)([101, 204, 205, 304].includes(res.status) ? null : text, { status: res.status, headers: res.headers });
    }) as W["dispatchFetch"],
  };
}
