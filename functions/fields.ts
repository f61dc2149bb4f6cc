// GET /fields: what a client may filter on. Ranges come from the manifest, so
// they cost no KV read.
import { decodeValue, type FieldType } from "../lib/filter/values.ts";
import type { IndexHandle } from "../lib/index/reader.ts";

/** A string field lists its values up to this many (the page's select); past it, only the count. */
export const MAX_LISTED_VALUES = 256;

export interface FieldDescription {
  name: string;
  type: FieldType;
  /** Smallest and largest value present (null when no item has one). */
  min: string | number | null;
  max: string | number | null;
  /** Distinct values (string fields). */
  distinct?: number;
  values?: string[];
}

export function describeFields(handle: IndexHandle | null): FieldDescription[] {
  const f = handle?.filters;
  if (!f) return [];
  const ranges = handle.manifest.filters?.ranges ?? [];
  return f.fields.map((field, c) => {
    const range = ranges[c];
    const out: FieldDescription = {
      name: field.name,
      type: field.type,
      min: range ? decodeValue(field, range[0]) : null,
      max: range ? decodeValue(field, range[1]) : null,
    };
    if (field.type === "string") {
      const values = field.values ?? [];
      out.distinct = values.length;
      if (values.length <= MAX_LISTED_VALUES) out.values = values;
    }
    return out;
  });
}
