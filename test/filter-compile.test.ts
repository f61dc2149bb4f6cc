// The filter language (lib/filter/compile.ts): each operator on each field type,
// shorthand, $or distribution, intersections, canonical form, and every error
// with its exact code and path.
import { describe, expect, it } from "vitest";
import { compileFilter, FilterError, MAX_FILTER_BYTES, MAX_IN_VALUES, MAX_OR_BRANCHES, type CompiledFilter } from "../lib/filter/compile.ts";
import { nextDown, nextUp } from "../lib/filter/float.ts";
import { matches } from "../lib/filter/match.ts";
import type { FilterSchema } from "../lib/filter/values.ts";

const DAY = 86_400_000;
const MARCH_1 = Date.UTC(2003, 2, 1);
const SCHEMA: FilterSchema = {
  fields: [
    { name: "publish_date", type: "date" },
    { name: "source", type: "string", values: ["abc", "nine", "sbs"] },
    { name: "score", type: "number" },
    { name: "flag", type: "string", values: ["1", "10", "false", "true"] },
  ],
};
const [DATE, SOURCE, SCORE, FLAG] = [0, 1, 2, 3];

interface Plain {
  field: number;
  ranges: number[];
  missing: boolean;
}
function plain(c: CompiledFilter | null): Plain[][] | null {
  return c && c.anyOf.map((conj) => conj.map((p) => ({ field: p.field, ranges: [...p.ranges], missing: p.missing })));
}
function compiled(filter: unknown, schema = SCHEMA): Plain[][] | null {
  return plain(compileFilter(filter, schema));
}
/** The single predicate of a one-field, one-branch filter. */
function only(filter: unknown): Plain {
  const c = compiled(filter);
  expect(c).toHaveLength(1);
  expect(c![0]).toHaveLength(1);
  return c![0][0];
}
function errorOf(filter: unknown, schema = SCHEMA, jsonBytes?: number): { code: string; path: string; message: string } {
  try {
    compileFilter(filter, schema, jsonBytes);
  } catch (e) {
    expect(e).toBeInstanceOf(FilterError);
    const f = e as FilterError;
    return { code: f.code, path: f.path, message: f.message };
  }
  throw new Error(`expected ${JSON.stringify(filter)} to be rejected`);
}
function expectError(filter: unknown, code: string, path: string): string {
  const e = errorOf(filter);
  expect({ code: e.code, path: e.path }).toEqual({ code, path });
  return e.message;
}
/** Whether one item (raw field values by name, encoded as the build would) passes. */
function passes(filter: unknown, values: Partial<Record<"publish_date" | "source" | "score" | "flag", number>>): boolean {
  const c = compileFilter(filter, SCHEMA)!;
  const byField = [values.publish_date, values.source, values.score, values.flag];
  return matches(c, (f) => byField[f] ?? NaN);
}

describe("operators on date fields", () => {
  const d = "2003-03-01";
  it.each([
    ["$eq", [MARCH_1, MARCH_1], false],
    ["$ne", [-Infinity, MARCH_1 - 1, MARCH_1 + 1, Infinity], true],
    ["$lt", [-Infinity, MARCH_1 - 1], false],
    ["$lte", [-Infinity, MARCH_1], false],
    ["$gt", [MARCH_1 + 1, Infinity], false],
    ["$gte", [MARCH_1, Infinity], false],
  ])("%s", (op, ranges, missing) => {
    expect(only({ publish_date: { [op]: d } })).toEqual({ field: DATE, ranges, missing });
  });

  it("$in and $nin", () => {
    expect(only({ publish_date: { $in: ["2003-03-02", d, "20030301"] } })).toEqual({ field: DATE, ranges: [MARCH_1, MARCH_1, MARCH_1 + DAY, MARCH_1 + DAY], missing: false });
    expect(only({ publish_date: { $nin: [d] } })).toEqual({ field: DATE, ranges: [-Infinity, MARCH_1 - 1, MARCH_1 + 1, Infinity], missing: true });
  });

  it("open and closed bounds land exactly on the boundary instant", () => {
    const lt = { publish_date: { $lt: d } };
    expect(passes(lt, { publish_date: MARCH_1 })).toBe(false);
    expect(passes(lt, { publish_date: MARCH_1 - 1 })).toBe(true); // 2003-02-28T23:59:59.999Z
    const lte = { publish_date: { $lte: d } };
    expect(passes(lte, { publish_date: MARCH_1 })).toBe(true);
    expect(passes(lte, { publish_date: MARCH_1 + 1 })).toBe(false); // a date is its midnight: 00:00:00.001 is after it
    const gt = { publish_date: { $gt: d } };
    expect(passes(gt, { publish_date: MARCH_1 })).toBe(false);
    expect(passes(gt, { publish_date: MARCH_1 + 1 })).toBe(true);
    const gte = { publish_date: { $gte: d } };
    expect(passes(gte, { publish_date: MARCH_1 })).toBe(true);
    expect(passes(gte, { publish_date: MARCH_1 - 1 })).toBe(false);
  });

  it("a month as {$gte, $lt} holds the whole month and nothing else", () => {
    const march = { publish_date: { $gte: "2003-03-01", $lt: "2003-04-01" } };
    const april1 = Date.UTC(2003, 3, 1);
    expect(only(march)).toEqual({ field: DATE, ranges: [MARCH_1, april1 - 1], missing: false });
    expect([MARCH_1 - 1, MARCH_1, april1 - 1, april1].map((t) => passes(march, { publish_date: t }))).toEqual([false, true, true, false]);
  });

  it("reads all date forms as the same filter", () => {
    const forms = ["2003-03-01", "20030301", 20030301, "2003-03-01T00:00:00Z", "2003-03-01T00:00Z", "2003-03-01T01:00:00+01:00"];
    const results = forms.map((f) => compileFilter({ publish_date: { $gte: f } }, SCHEMA)!);
    for (const r of results) {
      expect(plain(r)).toEqual(plain(results[0]));
      expect(r.canonical).toBe('{"publish_date":{"$gte":"2003-03-01"}}');
    }
  });

  it("keeps a time of day in the canonical form", () => {
    expect(compileFilter({ publish_date: { $lt: "2003-03-01T12:00+02:00" } }, SCHEMA)!.canonical).toBe('{"publish_date":{"$lt":"2003-03-01T10:00:00.000Z"}}');
  });
});

describe("operators on number fields", () => {
  it.each([
    ["$eq", [3, 3], false],
    ["$ne", [-Infinity, nextDown(3), nextUp(3), Infinity], true],
    ["$lt", [-Infinity, nextDown(3)], false],
    ["$lte", [-Infinity, 3], false],
    ["$gt", [nextUp(3), Infinity], false],
    ["$gte", [3, Infinity], false],
  ])("%s", (op, ranges, missing) => {
    expect(only({ score: { [op]: 3 } })).toEqual({ field: SCORE, ranges, missing });
  });

  it("$in and $nin", () => {
    expect(only({ score: { $in: [2, 1, 2] } })).toEqual({ field: SCORE, ranges: [1, 1, 2, 2], missing: false });
    expect(only({ score: { $nin: [1, nextUp(1)] } })).toEqual({ field: SCORE, ranges: [-Infinity, nextDown(1), nextUp(nextUp(1)), Infinity], missing: true });
  });

  it("open bounds exclude exactly the bound", () => {
    expect([nextDown(0.3), 0.3, nextUp(0.3)].map((v) => passes({ score: { $lt: 0.3 } }, { score: v }))).toEqual([true, false, false]);
    expect([nextDown(0.3), 0.3, nextUp(0.3)].map((v) => passes({ score: { $gt: 0.3 } }, { score: v }))).toEqual([false, false, true]);
    expect([nextDown(0.3), 0.3, nextUp(0.3)].map((v) => passes({ score: { $ne: 0.3 } }, { score: v }))).toEqual([true, false, true]);
  });

  it("treats -0 as 0", () => {
    expect(compileFilter({ score: -0 }, SCHEMA)!.canonical).toBe('{"score":{"$eq":0}}');
    expect(only({ score: { $gt: -0 } })).toEqual({ field: SCORE, ranges: [Number.MIN_VALUE, Infinity], missing: false });
  });
});

describe("operators on string fields", () => {
  it.each([
    ["$eq", "nine", [1, 1], false],
    ["$ne", "nine", [0, 0, 2, 2], true],
    ["$lt", "nine", [0, 0], false],
    ["$lte", "nine", [0, 1], false],
    ["$gt", "nine", [2, 2], false],
    ["$gte", "nine", [1, 2], false],
    // "m" is not in the dictionary: ranges use its insertion point (between "abc" and "nine").
    ["$ne", "m", [0, 2], true],
    ["$lt", "m", [0, 0], false],
    ["$lte", "m", [0, 0], false],
    ["$gt", "m", [1, 2], false],
    ["$gte", "m", [1, 2], false],
    ["$gte", "a", [0, 2], false],
    ["$gt", "zzz", [], false],
  ])("%s %j", (op, value, ranges, missing) => {
    const c = compiled({ source: { [op]: value } });
    // A predicate that nothing satisfies empties its branch.
    if (ranges.length === 0 && !missing) expect(c).toEqual([]);
    else expect(c).toEqual([[{ field: SOURCE, ranges, missing }]]);
  });

  it("$eq of a value absent from the dictionary matches nothing", () => {
    expect(compiled({ source: "zzz" })).toEqual([]);
    expect(compiled({ source: { $in: ["zzz", "m"] } })).toEqual([]);
  });

  it("$in and $nin merge adjacent codes", () => {
    expect(only({ source: { $in: ["sbs", "abc", "nine", "m"] } })).toEqual({ field: SOURCE, ranges: [0, 2], missing: false });
    expect(only({ source: { $in: ["sbs", "abc"] } })).toEqual({ field: SOURCE, ranges: [0, 0, 2, 2], missing: false });
    expect(only({ source: { $nin: ["abc", "nine"] } })).toEqual({ field: SOURCE, ranges: [2, 2], missing: true });
  });

  it("compares numbers and booleans as String(value)", () => {
    expect(only({ flag: 1 })).toEqual(only({ flag: "1" }));
    expect(only({ flag: 1 })).toEqual({ field: FLAG, ranges: [0, 0], missing: false });
    expect(only({ flag: { $in: [true, false] } })).toEqual({ field: FLAG, ranges: [2, 3], missing: false });
    // Code-unit order, not numeric: "10" < "9".
    expect(only({ flag: { $lt: 9 } })).toEqual({ field: FLAG, ranges: [0, 1], missing: false });
    expect(compileFilter({ flag: { $in: [true, "true", 10] } }, SCHEMA)!.canonical).toBe('{"flag":{"$in":["10","true"]}}');
  });

  it("works on a field with an empty dictionary", () => {
    const schema: FilterSchema = { fields: [{ name: "tag", type: "string", values: [] }] };
    expect(compiled({ tag: "x" }, schema)).toEqual([]);
    expect(compiled({ tag: { $ne: "x" } }, schema)).toEqual([[{ field: 0, ranges: [], missing: true }]]);
  });
});

describe("shape and combination", () => {
  it("returns null for the empty filter", () => {
    expect(compileFilter({}, SCHEMA)).toBeNull();
  });

  it("treats a bare value as $eq", () => {
    const a = compileFilter({ source: "abc" }, SCHEMA)!;
    const b = compileFilter({ source: { $eq: "abc" } }, SCHEMA)!;
    expect(plain(a)).toEqual([[{ field: SOURCE, ranges: [0, 0], missing: false }]]);
    expect(plain(a)).toEqual(plain(b));
    expect(a.canonical).toBe('{"source":{"$eq":"abc"}}');
    expect(b.canonical).toBe(a.canonical);
  });

  it("ANDs fields, sorted by field index, and several operators on one field", () => {
    expect(compiled({ score: { $gte: 1, $lt: 5, $ne: 2 }, source: "nine" })).toEqual([
      [
        { field: SOURCE, ranges: [1, 1], missing: false },
        { field: SCORE, ranges: [1, nextDown(2), nextUp(2), nextDown(5)], missing: false },
      ],
    ]);
  });

  it("distributes top-level fields over $or branches, intersecting a field named twice", () => {
    const filter = { source: "abc", score: { $gte: 1 }, $or: [{ score: { $lt: 5 } }, { publish_date: { $gte: "2003-03-01" } }, { score: { $gt: 10 }, source: { $ne: "sbs" } }] };
    expect(compiled(filter)).toEqual([
      [
        { field: SOURCE, ranges: [0, 0], missing: false },
        { field: SCORE, ranges: [1, nextDown(5)], missing: false },
      ],
      [
        { field: DATE, ranges: [MARCH_1, Infinity], missing: false },
        { field: SOURCE, ranges: [0, 0], missing: false },
        { field: SCORE, ranges: [1, Infinity], missing: false },
      ],
      [
        { field: SOURCE, ranges: [0, 0], missing: false },
        { field: SCORE, ranges: [nextUp(10), Infinity], missing: false },
      ],
    ]);
  });

  it("an $or alone is a plain OR", () => {
    expect(compiled({ $or: [{ source: "abc" }, { source: "sbs" }] })).toEqual([
      [{ field: SOURCE, ranges: [0, 0], missing: false }],
      [{ field: SOURCE, ranges: [2, 2], missing: false }],
    ]);
  });

  it("keeps contradictions as matching nothing, dropping only the impossible branches", () => {
    expect(compiled({ score: { $gt: 5, $lt: 3 } })).toEqual([]);
    expect(compiled({ score: { $gte: 3, $lte: 3 } })).toEqual([[{ field: SCORE, ranges: [3, 3], missing: false }]]);
    expect(compiled({ score: { $gt: 3, $lte: 3 } })).toEqual([]);
    expect(compiled({ score: { $in: [] } })).toEqual([]);
    expect(compiled({ score: { $lt: 3 }, $or: [{ score: { $gt: 4 } }, { source: "sbs" }] })).toEqual([
      [
        { field: SOURCE, ranges: [2, 2], missing: false },
        { field: SCORE, ranges: [-Infinity, nextDown(3)], missing: false },
      ],
    ]);
  });

  it("lets missing values pass $ne and $nin only, and not once ANDed with another operator", () => {
    expect(only({ score: { $nin: [] } })).toEqual({ field: SCORE, ranges: [-Infinity, Infinity], missing: true });
    expect(passes({ score: { $nin: [] } }, {})).toBe(true);
    expect(passes({ score: { $ne: 3 } }, {})).toBe(true);
    expect(passes({ score: { $nin: [3] } }, {})).toBe(true);
    for (const op of ["$eq", "$lt", "$lte", "$gt", "$gte"]) expect([op, passes({ score: { [op]: 3 } }, {})]).toEqual([op, false]);
    expect(passes({ score: { $in: [3] } }, {})).toBe(false);
    expect(passes({ score: { $ne: 3, $gte: 0 } }, {})).toBe(false);
    expect(only({ score: { $ne: 3, $nin: [4] } }).missing).toBe(true);
    // $ne of the only dictionary value still matches items without a value.
    expect(compiled({ source: { $ne: "abc" }, $or: [{ source: { $nin: ["nine", "sbs"] } }] })).toEqual([[{ field: SOURCE, ranges: [], missing: true }]]);
  });

  it("gives equivalent filters one canonical form, which compiles to the same filter", () => {
    const a = { source: { $in: ["sbs", "abc", "abc"] }, publish_date: { $lt: "20030401", $gte: "2003-03-01" }, $or: [{ score: 2 }, { score: { $gt: 5 } }] };
    const b = { $or: [{ score: { $gt: 5 } }, { score: { $eq: 2 } }, { score: 2 }], publish_date: { $gte: 20030301, $lt: "2003-04-01T00:00:00Z" }, source: { $in: ["abc", "sbs"] } };
    const ca = compileFilter(a, SCHEMA)!;
    const cb = compileFilter(b, SCHEMA)!;
    expect(ca.canonical).toBe('{"$or":[{"score":{"$eq":2}},{"score":{"$gt":5}}],"publish_date":{"$gte":"2003-03-01","$lt":"2003-04-01"},"source":{"$in":["abc","sbs"]}}');
    expect(cb.canonical).toBe(ca.canonical);
    const again = compileFilter(JSON.parse(ca.canonical), SCHEMA)!;
    expect(again.canonical).toBe(ca.canonical);
    expect(plain(again)).toEqual(plain(ca));
    expect(compileFilter({ score: 2 }, SCHEMA)!.canonical).not.toBe(compileFilter({ score: 3 }, SCHEMA)!.canonical);
  });

  it("accepts $or at the limit of branches and $in at the limit of values", () => {
    const branches = Array.from({ length: MAX_OR_BRANCHES }, (_, i) => ({ score: i }));
    expect(compiled({ $or: branches })).toHaveLength(MAX_OR_BRANCHES);
    const values = Array.from({ length: MAX_IN_VALUES }, (_, i) => i);
    expect(only({ score: { $in: values } }).ranges).toHaveLength(2 * MAX_IN_VALUES);
  });
});

describe("errors: code and path", () => {
  it("rejects a filter that is not an object", () => {
    for (const f of [[], [{ source: "abc" }], "source", 5, true, null]) expect(errorOf(f)).toMatchObject({ code: "invalid_filter", path: "filter" });
  });

  it("names an unknown field and lists the filterable ones", () => {
    const msg = expectError({ foo: 1 }, "unknown_filter_field", "filter.foo");
    expect(msg).toBe('unknown filter field "foo"; filterable fields: publish_date, source, score, flag');
    expectError({ source: "abc", $or: [{ score: 1 }, { bar: { $gt: 1 } }] }, "unknown_filter_field", "filter.$or[1].bar");
    expectError({ "my field": 1 }, "unknown_filter_field", 'filter["my field"]');
    expectError({ __proto__x: 1, constructor: 1 }, "unknown_filter_field", "filter.__proto__x");
    expect(errorOf({ constructor: 1 })).toMatchObject({ code: "unknown_filter_field", path: "filter.constructor" });
  });

  it("says when the index has no filterable fields", () => {
    const e = errorOf({ source: "abc" }, { fields: [] });
    expect(e).toEqual({ code: "unknown_filter_field", path: "filter.source", message: 'unknown filter field "source"; this index has no filterable fields (build it with --filterable COL,…)' });
  });

  it("rejects unknown operators where a field or an operator belongs", () => {
    expectError({ $and: [{ source: "abc" }] }, "invalid_filter", "filter.$and");
    expectError({ $or: [{ $not: { source: "abc" } }] }, "invalid_filter", "filter.$or[0].$not");
    expect(expectError({ score: { $foo: 1 } }, "invalid_filter", "filter.score.$foo")).toContain("$eq $ne $in $nin $lt $lte $gt $gte");
    expectError({ score: { gt: 1 } }, "invalid_filter", "filter.score.gt");
    expectError({ score: { $gte: 1, $lt: 2, $exists: true } }, "invalid_filter", "filter.score.$exists");
  });

  it("rejects bad condition shapes", () => {
    expectError({ score: {} }, "invalid_filter", "filter.score");
    expect(expectError({ source: ["abc", "sbs"] }, "invalid_filter", "filter.source")).toContain('"$in"');
    expectError({ source: null }, "invalid_filter", "filter.source");
    expectError({ source: { $eq: ["abc"] } }, "invalid_filter", "filter.source.$eq");
    expectError({ source: { $eq: {} } }, "invalid_filter", "filter.source.$eq");
    expectError({ score: { $lt: null } }, "invalid_filter", "filter.score.$lt");
  });

  it("rejects values of the wrong type for the field", () => {
    expect(expectError({ score: "3" }, "invalid_filter", "filter.score")).toBe('field "score" takes finite numbers, got "3"');
    expectError({ score: { $gte: true } }, "invalid_filter", "filter.score.$gte");
    expectError({ score: { $in: [1, 2, "3"] } }, "invalid_filter", "filter.score.$in[2]");
    expectError({ publish_date: { $gte: "2003-02-30" } }, "invalid_filter", "filter.publish_date.$gte");
    expect(errorOf({ publish_date: "2003-02-30" }).message).toContain('"2003-02-30" is not a valid date for field "publish_date"');
    expectError({ publish_date: 2003 }, "invalid_filter", "filter.publish_date");
    expectError({ publish_date: { $lt: true } }, "invalid_filter", "filter.publish_date.$lt");
    expectError({ publish_date: { $in: ["2003-03-01", "March"] } }, "invalid_filter", "filter.publish_date.$in[1]");
    expectError({ source: { $nin: ["abc", null] } }, "invalid_filter", "filter.source.$nin[1]");
    expectError({ $or: [{ score: 1 }, { source: { $in: ["abc", "nine", {}] } }] }, "invalid_filter", "filter.$or[1].source.$in[2]");
  });

  it("rejects $in/$nin that are not arrays or are too long", () => {
    expectError({ source: { $in: "abc" } }, "invalid_filter", "filter.source.$in");
    expectError({ source: { $nin: { a: 1 } } }, "invalid_filter", "filter.source.$nin");
    const long = Array.from({ length: MAX_IN_VALUES + 1 }, (_, i) => i);
    expect(expectError({ score: { $in: long } }, "invalid_filter", "filter.score.$in")).toBe(`$in has ${MAX_IN_VALUES + 1} values; at most ${MAX_IN_VALUES} are allowed`);
  });

  it("rejects malformed $or", () => {
    expectError({ $or: { source: "abc" } }, "invalid_filter", "filter.$or");
    expectError({ $or: [] }, "invalid_filter", "filter.$or");
    expectError({ $or: "x" }, "invalid_filter", "filter.$or");
    const tooMany = Array.from({ length: MAX_OR_BRANCHES + 1 }, (_, i) => ({ score: i }));
    expect(expectError({ $or: tooMany }, "invalid_filter", "filter.$or")).toBe(`$or has ${MAX_OR_BRANCHES + 1} branches; at most ${MAX_OR_BRANCHES} are allowed (use $in for lists of values)`);
    expectError({ $or: [{ score: 1 }, 1] }, "invalid_filter", "filter.$or[1]");
    expectError({ $or: [[{ score: 1 }]] }, "invalid_filter", "filter.$or[0]");
    expectError({ $or: [{}] }, "invalid_filter", "filter.$or[0]");
    expect(expectError({ $or: [{ score: 1 }, { source: "abc", $or: [{ score: 2 }] }] }, "invalid_filter", "filter.$or[1].$or")).toContain("cannot be nested");
  });

  it("rejects a filter over MAX_FILTER_BYTES of UTF-8 JSON, measured or given", () => {
    const padded = (n: number, ch = "a") => {
      const base = JSON.stringify({ source: "" }).length;
      return { source: ch.repeat(n - base) };
    };
    expect(JSON.stringify(padded(MAX_FILTER_BYTES)).length).toBe(MAX_FILTER_BYTES);
    expect(compiled(padded(MAX_FILTER_BYTES))).toEqual([]); // at the limit: accepted (and matches nothing)
    expectError(padded(MAX_FILTER_BYTES + 1), "filter_too_large", "filter");
    // 1,100 "é" are 1,112 UTF-16 units but 2,212 bytes.
    const accented = { source: "é".repeat(1100) };
    expect(JSON.stringify(accented).length).toBeLessThan(MAX_FILTER_BYTES);
    expect(errorOf(accented)).toMatchObject({ code: "filter_too_large", path: "filter" });
    // A caller that read the raw text passes its length, which wins (whitespace counts).
    expect(errorOf({ source: "abc" }, SCHEMA, MAX_FILTER_BYTES + 1)).toMatchObject({ code: "filter_too_large", path: "filter" });
    expect(compiled({ source: "abc" })).toEqual(plain(compileFilter({ source: "abc" }, SCHEMA, MAX_FILTER_BYTES)));
    expect(errorOf({ source: "abc" }, SCHEMA, MAX_FILTER_BYTES + 1).message).toBe(`the filter is ${MAX_FILTER_BYTES + 1} bytes of JSON; at most ${MAX_FILTER_BYTES} are allowed`);
  });

  it("rejects nesting deeper than MAX_FILTER_DEPTH at the first level too deep", () => {
    // Six levels (filter, condition, $in, and three arrays) pass the depth check and fail on shape.
    expectError({ source: { $in: [[[[1]]]] } }, "invalid_filter", "filter.source.$in[0]");
    expectError({ source: { $in: [[[[[1]]]]] } }, "filter_too_large", "filter.source.$in[0][0][0][0]");
    expectError({ $or: [{ source: { $in: ["abc"] } }, { a: { b: { c: { d: 1 } } } }] }, "unknown_filter_field", "filter.$or[1].a");
    expectError({ $or: [{ source: { $in: ["abc"] } }, { a: { b: { c: { d: { e: 1 } } } } }] }, "filter_too_large", "filter.$or[1].a.b.c.d");
    // The deepest legal filter has five levels.
    expect(compiled({ $or: [{ source: { $in: ["abc"] } }] })).toEqual([[{ field: SOURCE, ranges: [0, 0], missing: false }]]);
  });

  it("checks limits before fields, so an oversized filter is too large even with unknown fields", () => {
    expectError({ nope: { $in: [[[[[[1]]]]]] } }, "filter_too_large", "filter.nope.$in[0][0][0][0]");
  });
});
