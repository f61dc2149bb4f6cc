// How metadata values become comparable numbers (lib/filter/values.ts), the
// float64 neighbours behind open bounds (float.ts), and interval sets (ranges.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextDown, nextUp } from "../lib/filter/float.ts";
import { complement, domainOf, intersect, normalize } from "../lib/filter/ranges.ts";
import { buildDictionary, decodeValue, encodeValue, filterFields, lowerBound, parseDate, type FilterField } from "../lib/filter/values.ts";

const MARCH_1 = Date.UTC(2003, 2, 1);
const DATE: FilterField = { name: "publish_date", type: "date" };
const NUMBER: FilterField = { name: "score", type: "number" };
const STRING: FilterField = { name: "source", type: "string", values: ["10", "abc", "true"] };

describe("parseDate", () => {
  it("reads YYYYMMDD (text and 8-digit integer), YYYY-MM-DD and ISO date-times as the same instant", () => {
    for (const form of ["20030301", 20030301, "2003-03-01", "2003-03-01T00:00Z", "2003-03-01T00:00:00Z", "2003-03-01T00:00:00.000Z", "2003-03-01T00:00:00", "2003-03-01T10:30:00+10:30", "2003-02-28T19:00:00-05:00"]) {
      expect([form, parseDate(form)]).toEqual([form, MARCH_1]);
    }
  });

  it("keeps the time of day and milliseconds, truncating digits beyond them", () => {
    expect(parseDate("2003-02-28T23:59:59.999Z")).toBe(MARCH_1 - 1);
    expect(parseDate("2003-03-01T12:34:56.7Z")).toBe(MARCH_1 + ((12 * 60 + 34) * 60 + 56) * 1000 + 700);
    expect(parseDate("2003-03-01T00:00:00.123456Z")).toBe(MARCH_1 + 123);
    expect(parseDate("2003-03-01T05:30+05:30")).toBe(MARCH_1);
  });

  it("checks month and day ranges, leap years included", () => {
    expect(parseDate("2004-02-29")).toBe(Date.UTC(2004, 1, 29));
    expect(parseDate("2000-02-29")).toBe(Date.UTC(2000, 1, 29));
    expect(parseDate("2003-12-31")).toBe(Date.UTC(2003, 11, 31));
    for (const bad of ["2003-02-29", "1900-02-29", "2003-02-30", "20030230", "2003-04-31", "2003-13-01", "2003-00-10", "2003-01-00", "2003-01-32"]) {
      expect([bad, parseDate(bad)]).toEqual([bad, null]);
    }
  });

  it("maps years below 100 to themselves, not to the 1900s", () => {
    expect(parseDate("0050-06-15")).toBe(new Date("0050-06-15T00:00:00Z").getTime());
    expect(new Date(parseDate("0050-06-15")!).getUTCFullYear()).toBe(50);
  });

  it("rejects other shapes, times out of range and non-date types", () => {
    const bad: unknown[] = [
      "2003-3-1", "03-03-01", "2003/03/01", " 2003-03-01", "2003-03-01 ", "2003-03-01T", "2003-03-01T10", "2003-03-01 10:00",
      "2003-03-01T24:00", "2003-03-01T23:60", "2003-03-01T23:59:60", "2003-03-01T10:00+24:00", "2003-03-01T10:00+05:60", "2003-03-01T10:00+0530",
      "2003030", "200303011", 2003030, 200303011, 20030301.5, 20030230, -20030301, "", "March 1 2003", true, null, undefined, {}, [20030301], NaN,
    ];
    for (const b of bad) expect([b, parseDate(b)]).toEqual([b, null]);
  });
});

describe("encodeValue / decodeValue", () => {
  it("encodes missing values (null, undefined, empty text) as NaN for every type", () => {
    for (const field of [DATE, NUMBER, STRING]) for (const raw of [null, undefined, ""]) expect(encodeValue(field, raw)).toBeNaN();
  });

  it("encodes dates as ms since the epoch and decodes them as a date, or a full ISO time when not midnight", () => {
    expect(encodeValue(DATE, "2003-03-01")).toBe(MARCH_1);
    expect(encodeValue(DATE, 20030301)).toBe(MARCH_1);
    expect(encodeValue(DATE, "junk")).toBeNull();
    expect(encodeValue(DATE, 5)).toBeNull();
    expect(encodeValue(DATE, true)).toBeNull();
    expect(decodeValue(DATE, MARCH_1)).toBe("2003-03-01");
    expect(decodeValue(DATE, MARCH_1 - 1)).toBe("2003-02-28T23:59:59.999Z");
    expect(decodeValue(DATE, NaN)).toBeNull();
  });

  it("encodes numbers and numeric text (the build reads CSV), rejecting the rest", () => {
    expect(encodeValue(NUMBER, 3.5)).toBe(3.5);
    expect(encodeValue(NUMBER, "3.5")).toBe(3.5);
    expect(encodeValue(NUMBER, "-2e3")).toBe(-2000);
    expect(encodeValue(NUMBER, ".5")).toBe(0.5);
    expect(Object.is(encodeValue(NUMBER, "-0"), 0)).toBe(true);
    expect(Object.is(encodeValue(NUMBER, -0), 0)).toBe(true);
    for (const bad of ["abc", "0x10", "1,5", " 3", "Infinity", Infinity, -Infinity, NaN, true, {}, "1e999"]) {
      expect([bad, encodeValue(NUMBER, bad)]).toEqual([bad, null]);
    }
    expect(decodeValue(NUMBER, 3.5)).toBe(3.5);
  });

  it("encodes strings, numbers and booleans as the dictionary index of String(value), -1 when absent", () => {
    expect(encodeValue(STRING, "10")).toBe(0);
    expect(encodeValue(STRING, 10)).toBe(0);
    expect(encodeValue(STRING, "abc")).toBe(1);
    expect(encodeValue(STRING, true)).toBe(2);
    expect(encodeValue(STRING, "ab")).toBe(-1);
    expect(encodeValue(STRING, "zzz")).toBe(-1);
    expect(encodeValue({ name: "empty", type: "string" }, "x")).toBe(-1);
    expect(encodeValue(STRING, {})).toBeNull();
    expect(encodeValue(STRING, [1])).toBeNull();
    expect(decodeValue(STRING, 1)).toBe("abc");
    expect(decodeValue(STRING, -1)).toBeNull();
    expect(decodeValue(STRING, 3)).toBeNull();
    expect(decodeValue(STRING, 0.5)).toBeNull();
  });

  it("round-trips dates through decode and encode", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => encodeValue(DATE, decodeValue(DATE, ms)) === ms),
      { seed: 7, numRuns: 2000 },
    );
  });
});

describe("dictionaries", () => {
  it("builds the sorted, de-duplicated dictionary of present values in code-unit order", () => {
    expect(buildDictionary(["b", "a", 1, true, null, "", undefined, "a", "B", {}, "é", "z"])).toEqual(["1", "B", "a", "b", "true", "z", "é"]);
  });

  it("finds insertion points", () => {
    const v = ["b", "d", "f"];
    expect(["a", "b", "c", "d", "e", "f", "g"].map((s) => lowerBound(v, s))).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect(lowerBound([], "x")).toBe(0);
  });

  it("lists a schema's field names in order", () => {
    expect(filterFields({ fields: [DATE, STRING, NUMBER] })).toEqual(["publish_date", "source", "score"]);
  });
});

describe("nextUp / nextDown", () => {
  it("step to the neighbouring float64 at the special points", () => {
    expect(nextUp(1)).toBe(1 + Number.EPSILON);
    expect(nextDown(1)).toBe(1 - Number.EPSILON / 2);
    expect(nextUp(0)).toBe(Number.MIN_VALUE);
    expect(nextDown(0)).toBe(-Number.MIN_VALUE);
    expect(Object.is(nextUp(-Number.MIN_VALUE), 0)).toBe(true);
    expect(Object.is(nextDown(Number.MIN_VALUE), 0)).toBe(true);
    expect(nextUp(Number.MAX_VALUE)).toBe(Infinity);
    expect(nextUp(-Infinity)).toBe(-Number.MAX_VALUE);
    expect(nextDown(Infinity)).toBe(Number.MAX_VALUE);
    expect(nextUp(Infinity)).toBe(Infinity);
    expect(nextDown(-Infinity)).toBe(-Infinity);
    expect(nextUp(NaN)).toBeNaN();
    expect(nextUp(-1)).toBe(-1 + Number.EPSILON / 2);
  });

  it("leave nothing representable between x and its neighbours", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -Number.MAX_VALUE, max: nextDown(Number.MAX_VALUE) }), (x) => {
        const up = nextUp(x);
        const mid = x / 2 + up / 2; // halves first: no overflow near MAX_VALUE
        return up > x && nextDown(up) === (x === 0 ? 0 : x) && (mid === x || mid === up);
      }),
      { seed: 11, numRuns: 5000 },
    );
  });
});

describe("interval sets", () => {
  const ints = domainOf({ name: "s", type: "string", values: ["a", "b", "c", "d", "e", "f"] }); // codes 0..5
  const floats = domainOf(NUMBER);

  it("normalizes: clamps to the domain, drops empty, sorts, merges overlapping and adjacent intervals", () => {
    expect(normalize(ints, [4, 4, 0, 1, 2, 2, 3, 1, -5, 0, 9, 9])).toEqual([0, 2, 4, 4]);
    expect(normalize(floats, [2, 3, 1, nextDown(2), 5, 4])).toEqual([1, 3]);
    expect(normalize(floats, [2, 3, 1, nextDown(nextDown(2))])).toEqual([1, nextDown(nextDown(2)), 2, 3]);
  });

  it("intersects and complements within the domain", () => {
    expect(intersect([0, 2, 4, 5], [1, 4])).toEqual([1, 2, 4, 4]);
    expect(intersect([0, 1], [2, 3])).toEqual([]);
    expect(complement(ints, [1, 2, 4, 4])).toEqual([0, 0, 3, 3, 5, 5]);
    expect(complement(ints, [0, 5])).toEqual([]);
    expect(complement(ints, [])).toEqual([0, 5]);
    expect(complement(floats, [1, 2])).toEqual([-Infinity, nextDown(1), nextUp(2), Infinity]);
    expect(complement(floats, [-Infinity, 2])).toEqual([nextUp(2), Infinity]);
    expect(complement(floats, [-Infinity, Infinity])).toEqual([]);
  });
});
