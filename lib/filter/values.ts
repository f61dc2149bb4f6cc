// How metadata values become comparable numbers: the one owner, used by the
// build to encode corpus values and by queries to encode filter values.
//   date   → ms since the epoch, UTC (an integer)
//   number → the number itself (finite; -0 becomes 0)
//   string → the value's index in the field's sorted dictionary
// A missing value (null, undefined, "") encodes as NaN.

export type FieldType = "date" | "number" | "string";

export interface FilterField {
  name: string;
  type: FieldType;
  /** string fields only: the sorted dictionary (JS `<` order on String(value)); a value's code is its index. */
  values?: string[];
}

export interface FilterSchema {
  fields: FilterField[];
}

/** Field names, in schema order (for error messages). */
export function filterFields(schema: FilterSchema): string[] {
  return schema.fields.map((f) => f.name);
}

const MS_PER_DAY = 86_400_000;
const YYYYMMDD = /^(\d{4})(\d{2})(\d{2})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// Fractions beyond milliseconds (Python writes microseconds) are accepted and truncated.
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?$/;
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  offsetMinutes: number;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** "+05:30" → 330; undefined (no zone) and "Z" → 0: a date-time without a zone is read as UTC. */
function offsetMinutes(zone: string | undefined): number | null {
  if (zone === undefined || zone === "Z") return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 23 || minutes > 59) return null;
  return (zone[0] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

function civilFromString(s: string): Civil | null {
  const d = YYYYMMDD.exec(s) ?? ISO_DATE.exec(s);
  if (d) return { year: +d[1], month: +d[2], day: +d[3], hour: 0, minute: 0, second: 0, ms: 0, offsetMinutes: 0 };
  const t = ISO_DATE_TIME.exec(s);
  if (!t) return null;
  const offset = offsetMinutes(t[8]);
  if (offset === null) return null;
  const ms = t[7] === undefined ? 0 : Number(t[7].padEnd(3, "0").slice(0, 3));
  return { year: +t[1], month: +t[2], day: +t[3], hour: +t[4], minute: +t[5], second: t[6] === undefined ? 0 : +t[6], ms, offsetMinutes: offset };
}

function validCivil(c: Civil): boolean {
  return (
    c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= daysInMonth(c.year, c.month) &&
    c.hour <= 23 && c.minute <= 59 && c.second <= 59
  );
}

function civilToMs(c: Civil): number {
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(c.year, c.month - 1, c.day);
  date.setUTCHours(c.hour, c.minute - c.offsetMinutes, c.second, c.ms);
  return date.getTime();
}

/**
 * Date forms: YYYYMMDD (8 digits, also as an 8-digit integer number), YYYY-MM-DD,
 * ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]; no zone = UTC).
 * Returns ms since epoch UTC (date-only = midnight UTC), or null if not a valid date.
 */
export function parseDate(raw: unknown): number | null {
  let s: string;
  if (typeof raw === "number") {
    if (!Number.isInteger(raw) || raw < 10_000_000 || raw > 99_999_999) return null;
    s = String(raw);
  } else if (typeof raw === "string") {
    s = raw;
  } else {
    return null;
  }
  const civil = civilFromString(s);
  if (!civil || !validCivil(civil)) return null;
  const ms = civilToMs(civil);
  return Number.isFinite(ms) ? ms : null;
}

/** A finite number, or a numeric string's value (build side: CSV cells are text); null otherwise. */
export function parseNumber(raw: unknown): number | null {
  let n: number;
  if (typeof raw === "number") n = raw;
  else if (typeof raw === "string" && NUMERIC.test(raw)) n = Number(raw);
  else return null;
  if (!Number.isFinite(n)) return null;
  return n === 0 ? 0 : n; // -0 and 0 are one value
}

/** String(value) for the scalar types a string field accepts; null for anything else. */
export function stringOf(raw: unknown): string | null {
  if (typeof raw === "string") return raw;
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  return null;
}

export function isMissing(raw: unknown): boolean {
  return raw === null || raw === undefined || raw === "";
}

/** First index i with !(values[i] < s): where s is or would be inserted. */
export function lowerBound(values: readonly string[], s: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The sorted, de-duplicated dictionary of a string field's present values (the build's input to FilterField.values). */
export function buildDictionary(raws: Iterable<unknown>): string[] {
  const set = new Set<string>();
  for (const raw of raws) {
    if (isMissing(raw)) continue;
    const s = stringOf(raw);
    if (s !== null) set.add(s);
  }
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function dictionaryCode(values: readonly string[], s: string): number {
  const i = lowerBound(values, s);
  return values[i] === s ? i : -1;
}

/**
 * Encoded value of a corpus/meta value for a field: date → parseDate; number →
 * finite number (numeric strings accepted); string → dictionary index of
 * String(value), -1 if absent from the dictionary. Missing (null/undefined/"")
 * → NaN. null if the value is present but not of the field's type.
 */
export function encodeValue(field: FilterField, raw: unknown): number | null {
  if (isMissing(raw)) return NaN;
  switch (field.type) {
    case "date":
      return parseDate(raw);
    case "number":
      return parseNumber(raw);
    case "string": {
      const s = stringOf(raw);
      return s === null ? null : dictionaryCode(field.values ?? [], s);
    }
  }
}

/** A date as "YYYY-MM-DD" when it falls on midnight UTC, else the full ISO form; null outside Date's range. */
export function formatDate(ms: number): string | null {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return null;
  const iso = new Date(ms).toISOString();
  return ((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY === 0 ? iso.slice(0, iso.indexOf("T")) : iso;
}

/** Inverse for display: date → "YYYY-MM-DD" (or full ISO with a time part), number → number, string → dictionary value. null for NaN or an unknown code. */
export function decodeValue(field: FilterField, encoded: number): string | number | null {
  if (Number.isNaN(encoded)) return null;
  switch (field.type) {
    case "date":
      return formatDate(encoded);
    case "number":
      return encoded;
    case "string":
      return Number.isInteger(encoded) ? (field.values ?? [])[encoded] ?? null : null;
  }
}
