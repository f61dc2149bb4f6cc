// The filter language: parse and validate a filter JSON against the index's
// schema, and compile it to an OR of ANDs over closed intervals of encoded
// values (values.ts), which match.ts evaluates per item and per leaf summary.
//
//   filter    = { field: condition, …, "$or"?: [ branch, … ] }   fields ANDed
//   branch    = { field: condition, … }                          (no nested $or)
//   condition = value                       shorthand for {"$eq": value}
//             | { op: argument, … }         operators ANDed
//   op        = $eq $ne $lt $lte $gt $gte (one value) | $in $nin (array of values)
//
// {a: X, $or: [B1, B2]} compiles to (a∧B1) ∨ (a∧B2); one field twice in an AND
// intersects. Semantic choices:
//   - An item with no value for a field (missing) fails every operator on it
//     except $ne and $nin: "not equal to x" holds of an item that has no value,
//     as in Vectorize and MongoDB. So {"$gte": a} ∧ {"$ne": b} still excludes it.
//   - $in: [] matches nothing; $nin: [] matches everything, missing included.
//   - A filter that can match nothing (empty $in, contradictory ranges, a value
//     absent from a string field's dictionary) compiles to anyOf: [], not an error.
import { complement, domainOf, intersect, normalize, type Domain } from "./ranges.ts";
import { describe, FilterError, indexPath, isObject, keyPath, ROOT_PATH } from "./errors.ts";
import { filterFields, formatDate, lowerBound, parseDate, parseNumber, stringOf, type FilterField, type FilterSchema } from "./values.ts";

export { FilterError, type FilterErrorCode } from "./errors.ts";

export interface FieldPredicate {
  /** Index into schema.fields. */
  field: number;
  /**
   * Sorted, disjoint, CLOSED intervals [lo0,hi0,lo1,hi1,…] of encoded values that
   * match. Number fields: open bounds closed with the neighbouring float64,
   * unbounded sides ±Infinity. Date fields (integer ms): open bounds ±1, unbounded
   * sides ±Infinity. String fields: codes, clamped to [0, values.length-1].
   */
  ranges: Float64Array;
  /** Whether an item with no value (NaN) matches: true only for $ne / $nin. */
  missing: boolean;
}

export interface CompiledFilter {
  /** OR of these; each an AND of ≥ 1 predicates on distinct fields, sorted by field. Empty = matches nothing. */
  anyOf: FieldPredicate[][];
  /** Canonical JSON of the filter (sorted keys, shorthand as $eq, normalized values, sorted $in and $or) for cache keys. */
  canonical: string;
}

/** Of the JSON text, UTF-8: a filter is a few conditions, never a document. */
export const MAX_FILTER_BYTES = 2048;
/** Nesting levels of objects/arrays; the deepest legal filter, {$or:[{f:{$in:[…]}}]}, has 5. */
export const MAX_FILTER_DEPTH = 6;
/**
 * Conjuncts a filter may expand to. Every item and every leaf summary a query
 * scans is tested against each, so this bounds the per-item cost at 8 × (fields)
 * interval tests; a handful of ranges ("March or June", "this week or last
 * year's") is the use, and anything longer is better expressed as $in.
 */
export const MAX_OR_BRANCHES = 8;
/** Values in one $in/$nin list: more than a low-cardinality field's select offers, and binary-searched per item. */
export const MAX_IN_VALUES = 256;

const OPERATORS = ["$eq", "$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte"] as const;
type Operator = (typeof OPERATORS)[number];
const OPERATOR_LIST = OPERATORS.join(" ");

interface Predicate {
  ranges: number[];
  missing: boolean;
}
/** An AND: one predicate per field index. */
type Conjunct = Map<number, Predicate>;

interface Context {
  schema: FilterSchema;
  fieldIndex: Map<string, number>;
  domains: Domain[];
}

interface ParsedObject {
  conjunct: Conjunct;
  canonical: Record<string, unknown>;
}

/** A filter value encoded for one field: the codes [lo, hi] equal to it (empty when lo > hi), and its normal form. */
interface QueryValue {
  lo: number;
  hi: number;
  canonical: string | number;
}

/**
 * `input` is the already-JSON-parsed filter. `jsonBytes`, when known, is the
 * UTF-8 length of its JSON text; otherwise that of JSON.stringify(input).
 * Returns null for `{}` (no filter). Throws FilterError.
 */
export function compileFilter(input: unknown, schema: FilterSchema, jsonBytes?: number): CompiledFilter | null {
  if (jsonBytes !== undefined) checkSize(jsonBytes);
  checkDepth(input, ROOT_PATH, 1);
  if (jsonBytes === undefined) checkSize(measure(input));
  if (!isObject(input)) {
    throw new FilterError("invalid_filter", ROOT_PATH, `a filter must be a JSON object of field: condition pairs, got ${describe(input)}`);
  }
  if (Object.keys(input).length === 0) return null;
  const ctx = contextOf(schema);
  const top = parseFilterObject(input, ROOT_PATH, ctx, true);
  const branches = Object.hasOwn(input, "$or") ? parseOr(input.$or, keyPath(ROOT_PATH, "$or"), ctx) : null;
  const conjuncts = branches ? branches.map((b) => and(top.conjunct, b.conjunct)) : [top.conjunct];
  const canonical = branches ? { ...top.canonical, $or: canonicalSet(branches.map((b) => b.canonical)) } : top.canonical;
  return { anyOf: conjuncts.filter(satisfiable).map(toPredicates), canonical: stableStringify(canonical) };
}

function measure(input: unknown): number {
  const text = JSON.stringify(input);
  if (text === undefined) throw new FilterError("invalid_filter", ROOT_PATH, `a filter must be a JSON object, got ${describe(input)}`);
  return new TextEncoder().encode(text).length;
}

function checkSize(bytes: number): void {
  if (bytes > MAX_FILTER_BYTES) {
    throw new FilterError("filter_too_large", ROOT_PATH, `the filter is ${bytes} bytes of JSON; at most ${MAX_FILTER_BYTES} are allowed`);
  }
}

/** Throws at the first object/array nested deeper than MAX_FILTER_DEPTH (the filter itself is level 1). */
function checkDepth(v: unknown, path: string, depth: number): void {
  if (typeof v !== "object" || v === null) return;
  if (depth > MAX_FILTER_DEPTH) {
    throw new FilterError("filter_too_large", path, `the filter nests deeper than ${MAX_FILTER_DEPTH} levels of objects and arrays`);
  }
  if (Array.isArray(v)) v.forEach((x, i) => checkDepth(x, indexPath(path, i), depth + 1));
  else for (const [k, x] of Object.entries(v)) checkDepth(x, keyPath(path, k), depth + 1);
}

function contextOf(schema: FilterSchema): Context {
  const fieldIndex = new Map<string, number>();
  schema.fields.forEach((f, i) => fieldIndex.set(f.name, i));
  return { schema, fieldIndex, domains: schema.fields.map(domainOf) };
}

/** The fields of a filter object or $or branch; `$or` itself is left to the caller (top level only). */
function parseFilterObject(obj: Record<string, unknown>, path: string, ctx: Context, topLevel: boolean): ParsedObject {
  const conjunct: Conjunct = new Map();
  const canonical: Record<string, unknown> = {};
  for (const [key, condition] of Object.entries(obj)) {
    const at = keyPath(path, key);
    if (key === "$or") {
      if (topLevel) continue;
      throw new FilterError("invalid_filter", at, `$or cannot be nested: an $or branch is an object of field: condition pairs`);
    }
    if (key.startsWith("$") && !ctx.fieldIndex.has(key)) {
      throw new FilterError("invalid_filter", at, `unknown operator "${key}" where a field was expected; fields are ANDed implicitly, and "$or" is allowed at the top level only`);
    }
    const field = fieldOf(key, at, ctx);
    const parsed = parseCondition(condition, field, at, ctx);
    conjunct.set(field, parsed.predicate);
    canonical[key] = parsed.canonical;
  }
  return { conjunct, canonical };
}

function fieldOf(name: string, path: string, ctx: Context): number {
  const i = ctx.fieldIndex.get(name);
  if (i !== undefined) return i;
  const names = filterFields(ctx.schema);
  const hint = names.length === 0
    ? "this index has no filterable fields (build it with --filterable COL,…)"
    : `filterable fields: ${names.join(", ")}`;
  throw new FilterError("unknown_filter_field", path, `unknown filter field "${name}"; ${hint}`);
}

function parseOr(v: unknown, path: string, ctx: Context): ParsedObject[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw new FilterError("invalid_filter", path, `$or must be a non-empty array of filter objects, got ${describe(v)}${Array.isArray(v) ? " (empty)" : ""}`);
  }
  if (v.length > MAX_OR_BRANCHES) {
    throw new FilterError("invalid_filter", path, `$or has ${v.length} branches; at most ${MAX_OR_BRANCHES} are allowed (use $in for lists of values)`);
  }
  return v.map((branch, i) => {
    const at = indexPath(path, i);
    if (!isObject(branch)) throw new FilterError("invalid_filter", at, `an $or branch must be an object of field: condition pairs, got ${describe(branch)}`);
    if (Object.keys(branch).length === 0) throw new FilterError("invalid_filter", at, `an $or branch must name at least one field`);
    return parseFilterObject(branch, at, ctx, false);
  });
}

function parseCondition(condition: unknown, field: number, path: string, ctx: Context): { predicate: Predicate; canonical: Record<string, unknown> } {
  if (Array.isArray(condition)) {
    throw new FilterError("invalid_filter", path, `a condition cannot be an array; to match any of several values use {"$in": [...]}`);
  }
  if (!isObject(condition)) {
    // Shorthand for $eq: errors name the field's path, as that is what the user wrote.
    const parsed = parseOperator("$eq", condition, field, path, ctx);
    return { predicate: parsed.predicate, canonical: { $eq: parsed.canonical } };
  }
  const entries = Object.entries(condition);
  if (entries.length === 0) throw new FilterError("invalid_filter", path, `a condition object needs at least one operator among ${OPERATOR_LIST}`);
  const d = ctx.domains[field];
  let predicate: Predicate = { ranges: normalize(d, [d.min, d.max]), missing: true };
  const canonical: Record<string, unknown> = {};
  for (const [op, arg] of entries) {
    const at = keyPath(path, op);
    if (!(OPERATORS as readonly string[]).includes(op)) {
      throw new FilterError("invalid_filter", at, `unknown operator "${op}"; use one of ${OPERATOR_LIST}`);
    }
    const parsed = parseOperator(op as Operator, arg, field, at, ctx);
    predicate = both(predicate, parsed.predicate);
    canonical[op] = parsed.canonical;
  }
  return { predicate, canonical };
}

function parseOperator(op: Operator, arg: unknown, field: number, path: string, ctx: Context): { predicate: Predicate; canonical: unknown } {
  const d = ctx.domains[field];
  if (op === "$in" || op === "$nin") {
    const values = parseList(op, arg, field, path, ctx);
    const union = normalize(d, values.flatMap((v) => [v.lo, v.hi]));
    const predicate = op === "$in" ? { ranges: union, missing: false } : { ranges: complement(d, union), missing: true };
    return { predicate, canonical: canonicalSet(values.map((v) => v.canonical)) };
  }
  const v = queryValue(ctx.schema.fields[field], arg, path);
  const ranges = operatorRanges(op, v, d);
  return { predicate: { ranges: normalize(d, ranges), missing: op === "$ne" }, canonical: v.canonical };
}

function operatorRanges(op: Exclude<Operator, "$in" | "$nin">, v: QueryValue, d: Domain): number[] {
  switch (op) {
    case "$eq":
      return [v.lo, v.hi];
    case "$ne":
      return complement(d, normalize(d, [v.lo, v.hi]));
    case "$lt":
      return [d.min, d.prev(v.lo)];
    case "$lte":
      return [d.min, v.hi];
    case "$gt":
      return [d.next(v.hi), d.max];
    case "$gte":
      return [v.lo, d.max];
  }
}

function parseList(op: string, arg: unknown, field: number, path: string, ctx: Context): QueryValue[] {
  if (!Array.isArray(arg)) throw new FilterError("invalid_filter", path, `${op} takes an array of values, got ${describe(arg)}`);
  if (arg.length > MAX_IN_VALUES) {
    throw new FilterError("invalid_filter", path, `${op} has ${arg.length} values; at most ${MAX_IN_VALUES} are allowed`);
  }
  return arg.map((x, i) => queryValue(ctx.schema.fields[field], x, indexPath(path, i)));
}

function queryValue(field: FilterField, raw: unknown, path: string): QueryValue {
  if (raw === null || typeof raw === "object") {
    throw new FilterError("invalid_filter", path, `field "${field.name}" takes ${expected(field)}, got ${describe(raw)}`);
  }
  switch (field.type) {
    case "date": {
      const ms = parseDate(raw);
      if (ms === null) {
        throw new FilterError("invalid_filter", path, `${shown(raw)} is not a valid date for field "${field.name}"; use ${expected(field)}`);
      }
      return { lo: ms, hi: ms, canonical: formatDate(ms) ?? ms };
    }
    case "number": {
      const n = typeof raw === "number" ? parseNumber(raw) : null;
      if (n === null) throw new FilterError("invalid_filter", path, `field "${field.name}" takes ${expected(field)}, got ${shown(raw)}`);
      return { lo: n, hi: n, canonical: n };
    }
    case "string": {
      const s = stringOf(raw);
      if (s === null) throw new FilterError("invalid_filter", path, `field "${field.name}" takes ${expected(field)}, got ${describe(raw)}`);
      // Codes equal to s: [i, i] when present, empty (i, i-1) when not; either way i is
      // the insertion point, so range operators on absent values still work.
      const values = field.values ?? [];
      const i = lowerBound(values, s);
      return { lo: i, hi: values[i] === s ? i : i - 1, canonical: s };
    }
  }
}

function expected(field: FilterField): string {
  switch (field.type) {
    case "date":
      return "a date: \"YYYYMMDD\" (or that 8-digit number), \"YYYY-MM-DD\" or ISO 8601 \"YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]\"";
    case "number":
      return "finite numbers";
    case "string":
      return "strings, numbers or booleans";
  }
}

const SHOWN_CHARS = 40;
function shown(raw: unknown): string {
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}

function both(a: Predicate, b: Predicate): Predicate {
  return { ranges: intersect(a.ranges, b.ranges), missing: a.missing && b.missing };
}

/** The AND of two conjuncts: predicates on the same field intersect. */
function and(a: Conjunct, b: Conjunct): Conjunct {
  const out: Conjunct = new Map(a);
  for (const [field, p] of b) {
    const q = out.get(field);
    out.set(field, q ? both(q, p) : p);
  }
  return out;
}

/** False when some predicate matches neither a value nor a missing one. */
function satisfiable(c: Conjunct): boolean {
  for (const p of c.values()) if (p.ranges.length === 0 && !p.missing) return false;
  return true;
}

function toPredicates(c: Conjunct): FieldPredicate[] {
  return [...c.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([field, p]) => ({ field, ranges: Float64Array.from(p.ranges), missing: p.missing }));
}

/** Sorted and de-duplicated by their canonical JSON, for order-free lists ($in values, $or branches). */
function canonicalSet<T>(items: T[]): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) byKey.set(stableStringify(item), item);
  return [...byKey.entries()].sort((a, b) => compareCanonical(a[1], b[1], a[0], b[0])).map(([, item]) => item);
}

function compareCanonical(a: unknown, b: unknown, aKey: string, bKey: string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return aKey < bKey ? -1 : aKey > bKey ? 1 : 0;
}

/** JSON with object keys sorted at every level. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
