// A request's filter: read from GET's `filter=<JSON>` or a POST body, compiled
// against the serving index's filterable fields (lib/filter/). Every fault is a
// 400 naming the bad part's path, before any embedding or KV read.
import { compileFilter, FilterError, MAX_FILTER_BYTES, MAX_FILTER_DEPTH, type CompiledFilter } from "../lib/filter/compile.ts";
import type { IndexHandle } from "../lib/index/reader.ts";
import { HttpError } from "./http.ts";

/** A filter as the request gave it: parsed JSON and the bytes of its text. */
export interface FilterInput {
  value: unknown;
  bytes: number;
}

const encoder = new TextEncoder();

/** GET's `filter` parameter; its size is checked before it is parsed. */
export function filterFromParam(param: string | null): FilterInput | undefined {
  if (param === null || param.trim() === "") return undefined;
  const bytes = encoder.encode(param).length;
  if (bytes > MAX_FILTER_BYTES) throw new HttpError("filter_too_large", `filter: ${bytes} bytes of JSON; at most ${MAX_FILTER_BYTES}`, { param: "filter" });
  try {
    return { value: JSON.parse(param), bytes };
  } catch {
    throw new HttpError("invalid_filter", "filter: not valid JSON (send it URL-encoded)", { param: "filter" });
  }
}

/**
 * Throws filter_too_large at the first object or array nested deeper than
 * MAX_FILTER_DEPTH (the filter itself is level 1). Iterative, with an explicit
 * stack, and it never descends past that depth, so a filter nested 100,000 deep
 * is refused in a few steps instead of overflowing the call stack of a
 * recursive walk or of JSON.stringify (which surfaced as a 500).
 */
export function checkFilterDepth(value: unknown, where = ""): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > MAX_FILTER_DEPTH) throw new HttpError("filter_too_large", `${where}filter: nests deeper than ${MAX_FILTER_DEPTH} levels of objects and arrays`, { param: `${where}filter` });
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
}

/** A POST body's `filter` member (absent or null: none); its depth is checked before its size is computed. */
export function filterFromBody(value: unknown, where = ""): FilterInput | undefined {
  if (value === undefined || value === null) return undefined;
  checkFilterDepth(value, where);
  return { value, bytes: encoder.encode(JSON.stringify(value)).length };
}

/** Compiled against the index; `where` prefixes the error path (e.g. "queries[2]."). */
export function compileRequestFilter(input: FilterInput | undefined, handle: IndexHandle | null, where = ""): CompiledFilter | null {
  if (!input) return null;
  try {
    return compileFilter(input.value, { fields: handle?.filters?.fields ?? [] }, input.bytes);
  } catch (e) {
    if (e instanceof FilterError) throw new HttpError(e.code, `${where}${e.path}: ${e.message}`, { param: `${where}${e.path}` });
    throw e;
  }
}
