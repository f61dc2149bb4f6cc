// The error catalog and the OpenAPI document, without a Worker: every code maps
// to exactly one status; every code the sources throw is in the catalog (by
// type and by scanning the sources, so a code added to only one place fails);
// docs/api.md documents every code; the document is valid OpenAPI 3.1; and the
// response validator the Worker tests run can fail.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { ERRORS, ERROR_CODES, isErrorCode, type ErrorCode } from "../functions/errors.ts";
import { HttpError, errorResponse, toHttpError } from "../functions/http.ts";
import { OPENAPI } from "../functions/openapi.ts";
import type { IndexErrorCode } from "../lib/index/fetch.ts";
import type { FilterErrorCode } from "../lib/filter/errors.ts";
import type { ModelError } from "../functions/model.ts";
import { ContractError, validateAcceptedRequest, validateResponse } from "./helpers/openapi.ts";

// Compile-time: lib's code unions are subsets of the catalog (tsc fails otherwise).
const _index: ErrorCode = "" as IndexErrorCode;
const _filter: ErrorCode = "" as FilterErrorCode;
const _model: ErrorCode = "" as ModelError["code"];
void [_index, _filter, _model];

const ROOT = path.resolve(import.meta.dirname, "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

describe("the error catalog", () => {
  it("maps every code to exactly one HTTP status, and derives Retry-After from it", () => {
    expect(ERROR_CODES.length).toBeGreaterThan(20);
    for (const code of ERROR_CODES) {
      const spec = ERRORS[code];
      expect(Number.isInteger(spec.status), code).toBe(true);
      expect(spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(spec.doc.length, code).toBeGreaterThan(10);
      const res = errorResponse(new HttpError(code, "m", { param: "p" }));
      expect(res.status, code).toBe(spec.status);
      const retry = "retryAfter" in spec ? String(spec.retryAfter) : null;
      expect(res.headers.get("retry-after"), code).toBe(retry);
    }
    // A corrupt value stays corrupt until someone republishes: no Retry-After.
    expect(errorResponse(new HttpError("shard_corrupt", "x")).headers.get("retry-after")).toBeNull();
    expect(errorResponse(new HttpError("shard_missing", "x")).headers.get("retry-after")).toBe("5");
  });

  it("every code thrown in functions/ and lib/ is in the catalog", () => {
    const thrown = new Set<string>();
    for (const file of [...sources(path.join(ROOT, "functions")), ...sources(path.join(ROOT, "lib"))]) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/new (?:HttpError|IndexError|ModelError|FilterError)\(\s*"([^"]+)"/g)) thrown.add(m[1]);
      // Coded errors with a code literal typed as a union (ModelError's, IndexErrorCode, FilterErrorCode).
      for (const m of text.matchAll(/(?:ErrorCode|readonly code:)\s*=?\s*((?:\s*\|?\s*"[a-z_]+")+)/g)) for (const c of m[1].matchAll(/"([a-z_]+)"/g)) thrown.add(c[1]);
    }
    expect(thrown.size).toBeGreaterThan(15);
    const missing = [...thrown].filter((c) => !isErrorCode(c));
    expect(missing, `codes thrown but not in functions/errors.ts: ${missing.join(", ")}`).toEqual([]);
  });

  it("an error whose code is not in the catalog is a 500, never passed through", () => {
    const e = Object.assign(new Error("boom"), { code: "made_up_code" });
    expect(toHttpError(e).status).toBe(500);
    expect(toHttpError(e).code).toBe("internal");
    expect(toHttpError(Object.assign(new Error("x"), { code: "record_missing" })).status).toBe(503);
    expect(toHttpError(Object.assign(new Error("x"), { code: "unknown_filter_field", path: "filter.a" })).param).toBe("filter.a");
  });

  it("docs/api.md documents every code with its status and a curl example of every route", () => {
    const doc = readFileSync(path.join(ROOT, "docs", "api.md"), "utf8");
    for (const code of ERROR_CODES) expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${ERRORS[code].status} \\|`));
    for (const route of ["/v1/search", "/v1/embed", "/v1/embeddings", "/v1/fields", "/v1/examples", "/v1/healthz", "/v1/openapi.json"]) {
      expect(doc, route).toMatch(new RegExp(`curl[^\\n]*${route.replace(/\./g, "\\.")}`));
    }
  });
});

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 and lists the catalog's codes", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(OPENAPI)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(OPENAPI.components.schemas.ErrorCode.enum).toEqual(ERROR_CODES);
  });

  it("the response validator rejects what the document does not allow", () => {
    const h = (type = "application/json") => new Headers({ "content-type": type });
    const ok = JSON.stringify({ object: "examples", examples: ["a"], index: { version: "v", items: 1 } });
    expect(() => validateResponse("GET", "/v1/examples", 200, h(), ok)).not.toThrow();
    const cases: Array<[string, string, number, Headers, string]> = [
      ["GET", "/v1/examples", 200, h(), JSON.stringify({ object: "examples", examples: ["a"] })],
      ["GET", "/v1/examples", 200, h(), JSON.stringify({ object: "examples", examples: ["a"], index: { version: "v", items: 1 }, extra: 1 })],
      ["GET", "/v1/examples", 200, h("text/plain"), ok],
      ["GET", "/v1/examples", 201, h(), ok],
      ["GET", "/v1/search", 400, h(), JSON.stringify({ error: { code: "missing_query", message: "m" } })],
      ["GET", "/v1/search", 503, h(), JSON.stringify({ error: { code: "not_a_code", message: "m" } })],
      ["POST", "/v1/embeddings", 400, h(), JSON.stringify({ error: { code: "invalid_body", message: "m", param: "input" } })],
      ["GET", "/search", 200, h(), "{}"],
      ["PUT", "/v1/search", 200, h(), "{}"],
    ];
    for (const [m, p, s, headers, body] of cases) expect(() => validateResponse(m, p, s, headers, body), `${m} ${p} ${s} ${body}`).toThrow(ContractError);
    // A request the Worker accepted must be one the document allows.
    expect(() => validateAcceptedRequest("POST", "/v1/search", 200, JSON.stringify({ q: "a", k: 3 }))).not.toThrow();
    expect(() => validateAcceptedRequest("POST", "/v1/search", 200, JSON.stringify({ q: "a", top_k: 3 }))).toThrow(ContractError);
    expect(() => validateAcceptedRequest("POST", "/v1/search", 400, JSON.stringify({ q: "a", top_k: 3 }))).not.toThrow();
    expect(() => validateAcceptedRequest("POST", "/v1/embeddings", 200, JSON.stringify({ model: "m", input: "x", encoding_format: "int8" }))).toThrow(ContractError);
  });
});
