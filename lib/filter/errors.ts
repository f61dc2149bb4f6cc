// The one exception type of the filter language, and the JSON-path-like paths
// (`filter.$or[1].source.$in[2]`) its errors name.

export type FilterErrorCode = "invalid_filter" | "unknown_filter_field" | "filter_too_large";

export class FilterError extends Error {
  constructor(
    readonly code: FilterErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = "FilterError";
  }
}

export const ROOT_PATH = "filter";
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `path.key`, or `path["odd key"]` when the key is not an identifier. */
export function keyPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** A plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Short description of a JSON value's type for messages: "an array", "null", "a string". */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}
