// Which metadata columns can be filtered, of what type, and every item's encoded
// value in each (lib/filter/values.ts owns the encoding). By default the build
// makes date-like columns and low-cardinality columns filterable, the ones a
// user narrows by; `--filterable` names them instead.
import { buildDictionary, encodeValue, isMissing, parseDate, parseNumber, stringOf, type FilterField, type FieldType } from "../../../lib/filter/values.ts";
import type { CompiledFilter } from "../../../lib/filter/compile.ts";
import { matches } from "../../../lib/filter/match.ts";
import { UsageError } from "../../common/cli.ts";
import type { CorpusItem } from "../corpus/read-corpus.ts";

/** A column with at most this many distinct values is low-cardinality: worth a select on the page and filterable by default. */
export const LOW_CARDINALITY = 64;
/** String columns keep a dictionary in the manifest (isolate memory); past this size a column cannot be filtered. */
export const MAX_DICTIONARY = 65536;
/** Columns the filter table can hold (u16 in format.ts; far more than anyone filters on). */
export const MAX_FILTER_COLUMNS = 32;

export type FilterableRequest = { kind: "default" } | { kind: "none" } | { kind: "named"; columns: string[] };

/** `--filterable`: "none", or a comma-separated list of columns. */
export function parseFilterable(flag: string | undefined): FilterableRequest {
  if (flag === undefined) return { kind: "default" };
  const columns = flag.split(",").map((c) => c.trim()).filter(Boolean);
  if (columns.length === 1 && columns[0] === "none") return { kind: "none" };
  if (columns.length === 0) throw new UsageError('--filterable takes COL[,COL…] or "none"');
  if (columns.length > MAX_FILTER_COLUMNS) throw new UsageError(`--filterable names ${columns.length} columns; at most ${MAX_FILTER_COLUMNS} can be filtered`);
  return { kind: "named", columns };
}

interface ColumnProfile {
  name: string;
  present: number;
  distinct: Set<string>;
  allDates: boolean;
  allNumbers: boolean;
}

function profile(name: string, items: readonly CorpusItem[]): ColumnProfile {
  const p: ColumnProfile = { name, present: 0, distinct: new Set(), allDates: true, allNumbers: true };
  for (const item of items) {
    const v = item.meta[name];
    if (isMissing(v)) continue;
    p.present++;
    if (p.distinct.size <= MAX_DICTIONARY) p.distinct.add(stringOf(v) ?? "");
    if (p.allDates && parseDate(v) === null) p.allDates = false;
    if (p.allNumbers && parseNumber(v) === null) p.allNumbers = false;
  }
  return p;
}

function typeOf(p: ColumnProfile): FieldType {
  // Dates first: 20030219 is both a number and a date, and users mean the date.
  if (p.allDates) return "date";
  if (p.allNumbers) return "number";
  return "string";
}

function field(p: ColumnProfile, items: readonly CorpusItem[]): FilterField {
  const type = typeOf(p);
  if (type !== "string") return { name: p.name, type };
  if (p.distinct.size > MAX_DICTIONARY) throw new UsageError(`column "${p.name}" has more than ${MAX_DICTIONARY} distinct values; a text column that varied cannot be filtered (leave it out of --filterable)`);
  return { name: p.name, type, values: buildDictionary(items.map((i) => i.meta[p.name])) };
}

function isDefaultFilterable(p: ColumnProfile): boolean {
  if (p.present === 0) return false;
  return typeOf(p) === "date" || p.distinct.size <= LOW_CARDINALITY;
}

/** The filterable fields of a corpus, in metadata-column order. */
export function chooseFilterFields(items: readonly CorpusItem[], metaColumns: readonly string[], request: FilterableRequest): FilterField[] {
  if (request.kind === "none") return [];
  if (request.kind === "named") {
    const unknown = request.columns.filter((c) => !metaColumns.includes(c));
    if (unknown.length) throw new UsageError(`--filterable: no metadata column ${unknown.map((c) => `"${c}"`).join(", ")}; the corpus has ${metaColumns.length ? metaColumns.map((c) => `"${c}"`).join(", ") : "none"}`);
    return request.columns.map((c) => field(profile(c, items), items));
  }
  return metaColumns
    .map((c) => profile(c, items))
    .filter(isDefaultFilterable)
    .slice(0, MAX_FILTER_COLUMNS)
    .map((p) => field(p, items));
}

/** Every item's encoded value per field, column-major (values[c·n + i]); NaN when an item has none. */
export function encodeColumns(items: readonly CorpusItem[], fields: readonly FilterField[]): Float64Array {
  const n = items.length;
  const values = new Float64Array(fields.length * n);
  fields.forEach((f, c) => {
    for (let i = 0; i < n; i++) {
      const v = encodeValue(f, items[i].meta[f.name]);
      if (v === null) throw new UsageError(`item ${items[i].id}: "${f.name}" is ${JSON.stringify(items[i].meta[f.name])}, not a ${f.type} like the column's other values`);
      values[c * n + i] = v;
    }
  });
  return values;
}

/** One line per field for the build report. */
export function describeFields(fields: readonly FilterField[]): string[] {
  return fields.map((f) => (f.type === "string" ? `${f.name} (string, ${f.values?.length ?? 0} values)` : `${f.name} (${f.type})`));
}

/** Rows whose encoded values (encodeColumns) pass the filter: exact filtered search's domain. */
export function matchingRows(values: Float64Array, n: number, filter: CompiledFilter): number[] {
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (matches(filter, (f) => values[f * n + i])) rows.push(i);
  return rows;
}
