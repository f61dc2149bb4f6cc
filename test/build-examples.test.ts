// The page's example queries: short, distinct item texts spread over the corpus.
import { describe, expect, it } from "vitest";
import { EXAMPLE_COUNT, pickExamples } from "../scripts/builder/packing/examples.ts";

describe("pickExamples", () => {
  it("takes the first query-like text of each equal stretch of the corpus", () => {
    const texts = Array.from({ length: 60 }, (_, i) => (i % 10 === 3 ? `headline number ${i} here` : i % 10 === 0 ? "too short" : `${"long ".repeat(12)}${i}`));
    expect(pickExamples(texts)).toEqual([3, 13, 23, 33, 43, 53].map((i) => `headline number ${i} here`));
  });

  it("skips texts too short, too long or already picked, and normalises spaces", () => {
    const texts = ["ab cd", "one  two\tthree", "one two three", "x ".repeat(30) + "y", "four five six seven"];
    expect(pickExamples(texts, 2)).toEqual(["one two three", "four five six seven"]);
  });

  it("returns fewer when the corpus has fewer candidates, and none for an empty corpus", () => {
    expect(pickExamples(["just one good text", "no"])).toEqual(["just one good text"]);
    expect(pickExamples([])).toEqual([]);
    expect(EXAMPLE_COUNT).toBe(6);
  });
});
