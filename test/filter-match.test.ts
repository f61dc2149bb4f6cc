// Evaluating compiled filters (lib/filter/match.ts), and brute-force agreement of
// the whole language (compile + encode + match) with a reference evaluator that
// works directly on the raw values, over seeded random filters and items.
import { describe, expect, it } from "vitest";
import { compileFilter, type CompiledFilter, type FieldPredicate } from "../lib/filter/compile.ts";
import { nextDown, nextUp } from "../lib/filter/float.ts";
import { inRanges, matches, mayMatch, overlapsRanges } from "../lib/filter/match.ts";
import { buildDictionary, encodeValue, type FilterSchema } from "../lib/filter/values.ts";
import { rng } from "../scripts/builder/training/kernels.ts";

const RANGES = Float64Array.from([1, 2, 5, 5, 8, 10]);
const predicate = (field: number, ranges: number[], missing = false): FieldPredicate => ({ field, ranges: Float64Array.from(ranges), missing });
const filterOf = (anyOf: FieldPredicate[][]): CompiledFilter => ({ anyOf, canonical: "" });

describe("interval tests", () => {
  it("inRanges finds a value in closed intervals only", () => {
    expect([0, 1, 1.5, 2, 3, 5, 6, 8, 10, 11].map((v) => inRanges(RANGES, v))).toEqual([false, true, true, true, false, true, false, true, true, false]);
    expect(inRanges(new Float64Array(0), 1)).toBe(false);
    expect(inRanges(Float64Array.from([-Infinity, Infinity]), -1e308)).toBe(true);
  });

  it("overlapsRanges meets an interval at its ends too", () => {
    const cases: Array<[number, number, boolean]> = [[3, 4, false], [2, 3, true], [4, 5, true], [6, 7, false], [11, 20, false], [-Infinity, 0, false], [0, 1, true], [0, 100, true], [10, 10, true], [5.5, 7.9, false]];
    for (const [lo, hi, want] of cases) expect([lo, hi, overlapsRanges(RANGES, lo, hi)]).toEqual([lo, hi, want]);
    expect(overlapsRanges(new Float64Array(0), -Infinity, Infinity)).toBe(false);
  });
});

describe("matches / mayMatch", () => {
  const f = filterOf([[predicate(0, [1, 2]), predicate(1, [5, 5], true)], [predicate(2, [0, 0])]]);

  it("an item passes when every predicate of some branch does; missing values follow the flag", () => {
    const item = (a: number, b: number, c: number) => (i: number) => [a, b, c][i];
    expect(matches(f, item(1, 5, NaN))).toBe(true);
    expect(matches(f, item(1, NaN, NaN))).toBe(true);
    expect(matches(f, item(1, 6, NaN))).toBe(false);
    expect(matches(f, item(NaN, 5, NaN))).toBe(false);
    expect(matches(f, item(3, 5, 0))).toBe(true);
    expect(matches(filterOf([]), () => 0)).toBe(false);
  });

  it("a summary may match unless every branch has a predicate its [min, max] misses", () => {
    expect(mayMatch(f, [0, 0, 1], [1, 9, 1])).toBe(true);
    expect(mayMatch(f, [3, 0, 1], [4, 0, 1])).toBe(false);
    expect(mayMatch(f, [3, 0, 0], [4, 0, 0])).toBe(true); // second branch
    expect(mayMatch(f, [1, 6, 1], [2, 6, 1])).toBe(true); // predicate 1 accepts missing values, which the summary cannot rule out
    expect(mayMatch(f, [Infinity, 0, 1], [-Infinity, 0, 1])).toBe(false); // field 0 absent from every item
    expect(mayMatch(f, [NaN, 0, 1], [NaN, 0, 1])).toBe(true); // no summary: cannot skip
    expect(mayMatch(filterOf([[predicate(0, [1, 2])]]), [Infinity], [-Infinity])).toBe(false);
    expect(mayMatch(filterOf([[predicate(0, [], true)]]), [Infinity], [-Infinity])).toBe(true);
    expect(mayMatch(filterOf([]), [0], [0])).toBe(false);
  });
});

// ---------------------------------------------------------------- brute force

const DAY = 86_400_000;
const BASE = Date.UTC(2003, 1, 19);
const SPAN_DAYS = 20;
const MISSING_RATE = 0.15;
const FIELDS = ["day", "cat", "x"] as const;
type Field = (typeof FIELDS)[number];
const CAT_POOL: unknown[] = ["abc", "nine", "sbs", "ABC", "7", "10", "true", 7, true, "é"];
const CAT_QUERY_EXTRA: unknown[] = ["a", "zzz", "m", "", "8", false, "abc ", 10];
const NUM_POOL = [-2, -1, -0.5, 0, 0.1, 0.2, 0.1 + 0.2, 1, nextUp(1), 1.5, 3, 1e-300];
const NUM_QUERY_EXTRA = [2.5, nextDown(3), -100, 100, nextDown(0), Number.MIN_VALUE];
const OPS = ["$eq", "$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte"] as const;
type Op = (typeof OPS)[number];
const MISSING_FORMS = [null, undefined, ""];

/** A value in a field's reference domain: ms for dates, String(v) for categories, the number itself. */
type Ref = number | string;
interface QV {
  raw: unknown;
  ref: Ref;
}
interface RefCondition {
  ops: Array<{ op: Op; value: QV | QV[] }>;
}
interface RefFilter {
  fields: Map<Field, RefCondition>;
  or?: Array<Map<Field, RefCondition>>;
}
interface Item {
  raw: Record<Field, unknown>;
  ref: Partial<Record<Field, Ref>>;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
/** ms written in one of the date forms the language accepts (date-only forms only at midnight). */
function dateText(r: () => number, ms: number): unknown {
  const d = new Date(ms);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  const forms: unknown[] = [d.toISOString(), withOffset(ms, pick(r, [330, -300, 60, -600]))];
  if (ms % DAY === 0) forms.push(`${y}${pad(m)}${pad(day)}`, Number(`${y}${pad(m)}${pad(day)}`), `${y}-${pad(m)}-${pad(day)}`, `${y}-${pad(m)}-${pad(day)}T00:00Z`);
  return pick(r, forms);
}
function withOffset(ms: number, minutes: number): string {
  const local = new Date(ms + minutes * 60_000).toISOString().slice(0, -1);
  const a = Math.abs(minutes);
  return `${local}${minutes < 0 ? "-" : "+"}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function randomMs(r: () => number): number {
  const day = BASE + Math.floor(r() * SPAN_DAYS) * DAY;
  const u = r();
  return u < 0.5 ? day : u < 0.6 ? day + DAY - 1 : day + Math.floor(r() * DAY);
}

function makeItem(r: () => number): Item {
  const raw = {} as Record<Field, unknown>;
  const ref: Partial<Record<Field, Ref>> = {};
  if (r() < MISSING_RATE) raw.day = pick(r, MISSING_FORMS);
  else {
    const ms = randomMs(r);
    raw.day = dateText(r, ms);
    ref.day = ms;
  }
  if (r() < MISSING_RATE) raw.cat = pick(r, MISSING_FORMS);
  else {
    raw.cat = pick(r, CAT_POOL);
    ref.cat = String(raw.cat);
  }
  if (r() < MISSING_RATE) raw.x = pick(r, MISSING_FORMS);
  else {
    const x = pick(r, NUM_POOL);
    raw.x = r() < 0.5 ? x : String(x); // the build reads CSV text
    ref.x = x;
  }
  return { raw, ref };
}

function queryValue(r: () => number, field: Field, items: Item[]): QV {
  if (field === "day") {
    const seen = items[Math.floor(r() * items.length)].ref.day as number | undefined;
    const u = r();
    const ms = seen === undefined || u < 0.3 ? BASE + Math.floor(r() * (SPAN_DAYS + 4) - 2) * DAY : u < 0.8 ? seen : seen + pick(r, [-1, 1]);
    return { raw: dateText(r, ms), ref: ms };
  }
  if (field === "cat") {
    const raw = pick(r, [...CAT_POOL, ...CAT_QUERY_EXTRA]);
    return { raw, ref: String(raw) };
  }
  const x = pick(r, [...NUM_POOL, ...NUM_QUERY_EXTRA]);
  return { raw: x, ref: x };
}

function randomCondition(r: () => number, field: Field, items: Item[]): { json: unknown; cond: RefCondition } {
  if (r() < 0.3) {
    const v = queryValue(r, field, items);
    return { json: v.raw, cond: { ops: [{ op: "$eq", value: v }] } };
  }
  const ops = [...OPS].sort(() => r() - 0.5).slice(0, 1 + Math.floor(r() * 3));
  const json: Record<string, unknown> = {};
  const cond: RefCondition = { ops: [] };
  for (const op of ops) {
    if (op === "$in" || op === "$nin") {
      const list = Array.from({ length: Math.floor(r() * 5) }, () => queryValue(r, field, items));
      json[op] = list.map((v) => v.raw);
      cond.ops.push({ op, value: list });
    } else {
      const v = queryValue(r, field, items);
      json[op] = v.raw;
      cond.ops.push({ op, value: v });
    }
  }
  return { json, cond };
}

function randomFields(r: () => number, items: Item[], min: number): { json: Record<string, unknown>; fields: Map<Field, RefCondition> } {
  const names = [...FIELDS].sort(() => r() - 0.5).slice(0, min + Math.floor(r() * (4 - min)));
  const json: Record<string, unknown> = {};
  const fields = new Map<Field, RefCondition>();
  for (const name of names) {
    const c = randomCondition(r, name, items);
    json[name] = c.json;
    fields.set(name, c.cond);
  }
  return { json, fields };
}

function randomFilter(r: () => number, items: Item[]): { json: Record<string, unknown>; ref: RefFilter } {
  const withOr = r() < 0.35;
  const top = randomFields(r, items, withOr ? 0 : 1);
  if (!withOr) return { json: top.json, ref: { fields: top.fields } };
  const branches = Array.from({ length: 1 + Math.floor(r() * 4) }, () => randomFields(r, items, 1));
  return { json: { ...top.json, $or: branches.map((b) => b.json) }, ref: { fields: top.fields, or: branches.map((b) => b.fields) } };
}

/** The reference: the language's meaning, written directly over raw values. */
function refOp(op: Op, value: QV | QV[], x: Ref | undefined): boolean {
  if (x === undefined) return op === "$ne" || op === "$nin"; // missing values pass $ne and $nin only
  if (Array.isArray(value)) return value.some((v) => v.ref === x) === (op === "$in");
  const v = value.ref;
  switch (op) {
    case "$eq":
      return x === v;
    case "$ne":
      return x !== v;
    case "$lt":
      return x < v;
    case "$lte":
      return x <= v;
    case "$gt":
      return x > v;
    case "$gte":
      return x >= v;
    default:
      throw new Error(op);
  }
}
function refAll(fields: Map<Field, RefCondition>, item: Item): boolean {
  return [...fields].every(([field, cond]) => cond.ops.every(({ op, value }) => refOp(op, value, item.ref[field])));
}
function refMatches(f: RefFilter, item: Item): boolean {
  return refAll(f.fields, item) && (f.or === undefined || f.or.some((b) => refAll(b, item)));
}

describe("brute force against a reference evaluator", () => {
  const SEED = 20030219;
  const ITEMS = 300;
  const FILTERS = 1500;
  const r = rng(SEED);
  const items = Array.from({ length: ITEMS }, () => makeItem(r));
  const schema: FilterSchema = {
    fields: [
      { name: "day", type: "date" },
      { name: "cat", type: "string", values: buildDictionary(items.map((i) => i.raw.cat)) },
      { name: "x", type: "number" },
    ],
  };
  const encoded = items.map((item) =>
    schema.fields.map((field) => {
      const e = encodeValue(field, item.raw[field.name as Field]);
      if (e === null) throw new Error(`item value ${JSON.stringify(item.raw)} did not encode`);
      return e;
    }),
  );
  const cases = Array.from({ length: FILTERS }, () => randomFilter(r, items));

  it("generates items with every kind of value and filters of every selectivity", () => {
    expect(schema.fields[1].values).toEqual(["10", "7", "ABC", "abc", "nine", "sbs", "true", "é"]);
    const missing = encoded.flat().filter(Number.isNaN).length;
    expect(missing).toBeGreaterThan(0.1 * ITEMS * 3);
    const counts = cases.map((c) => items.filter((item) => refMatches(c.ref, item)).length);
    expect(counts.filter((n) => n === 0).length).toBeGreaterThan(FILTERS / 20);
    expect(counts.filter((n) => n === ITEMS).length).toBeGreaterThan(5);
    expect(counts.filter((n) => n > 0 && n < ITEMS / 10).length).toBeGreaterThan(FILTERS / 10);
    expect(counts.filter((n) => n >= ITEMS / 10 && n < ITEMS).length).toBeGreaterThan(FILTERS / 10);
  });

  it("matches agrees with the reference on every item, and the canonical form compiles to the same filter", () => {
    const disagreements: string[] = [];
    for (const c of cases) {
      const compiled = compileFilter(c.json, schema);
      if (compiled === null) throw new Error(`${JSON.stringify(c.json)} compiled to no filter`);
      const again = compileFilter(JSON.parse(compiled.canonical), schema)!;
      expect(again.canonical).toBe(compiled.canonical);
      items.forEach((item, i) => {
        const got = matches(compiled, (f) => encoded[i][f]);
        const again2 = matches(again, (f) => encoded[i][f]);
        const want = refMatches(c.ref, item);
        if (got !== want || again2 !== want) disagreements.push(`${JSON.stringify(c.json)} on ${JSON.stringify(item.raw)}: got ${got}/${again2}, want ${want}`);
      });
    }
    expect(disagreements.slice(0, 5)).toEqual([]);
  });

  it("mayMatch is never false for a group holding a matching item, and does prune", () => {
    const missed: string[] = [];
    let groups = 0;
    const pruned = prunedTotal(missed, () => groups++);
    expect(missed.slice(0, 5)).toEqual([]);
    expect(groups).toBeGreaterThan(FILTERS * 10);
    expect(pruned).toBeGreaterThan(groups / 10);
  });

  /** Cuts the items into random runs (like leaves), summarizes each by per-field [min, max], and checks mayMatch. */
  function prunedTotal(missed: string[], countGroup: () => void): number {
    const g = rng(SEED + 1);
    let pruned = 0;
    for (const c of cases) {
      const compiled = compileFilter(c.json, schema)!;
      for (let start = 0; start < ITEMS; ) {
        const end = Math.min(ITEMS, start + 1 + Math.floor(g() * 12));
        const min = [Infinity, Infinity, Infinity];
        const max = [-Infinity, -Infinity, -Infinity];
        for (let i = start; i < end; i++) {
          for (let f = 0; f < 3; f++) {
            const v = encoded[i][f];
            if (Number.isNaN(v)) continue;
            min[f] = Math.min(min[f], v);
            max[f] = Math.max(max[f], v);
          }
        }
        countGroup();
        const may = mayMatch(compiled, min, max);
        if (!may) pruned++;
        const some = items.slice(start, end).some((item) => refMatches(c.ref, item));
        if (some && !may) missed.push(`${JSON.stringify(c.json)} items ${start}..${end - 1}`);
        start = end;
      }
    }
    return pruned;
  }
});
