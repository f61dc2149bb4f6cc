// The filter as the URL and GET /v1/search carry it: JSON text of a Vectorize-style
// filter ({field: value | {$op: value}}, plus $or of such filters).

export type Filter = Record<string, unknown>;

export function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The filter object, or null when the text is not JSON of an object. */
export function parseFilter(text: string): Filter | null {
  try {
    const f: unknown = JSON.parse(text);
    return isPlain(f) ? f : null;
  } catch {
    return null;
  }
}

/** The field names a filter is about, $or branches included. */
export function filterFields(text: string): Set<string> {
  const names = new Set<string>();
  const walk = (f: unknown): void => {
    for (const [key, value] of Object.entries(f || {})) {
      if (key === "$or" && Array.isArray(value)) value.forEach(walk);
      else names.add(key);
    }
  };
  if (text) walk(parseFilter(text));
  return names;
}
