// The Worker bundles the tokenizer from the package's ES module build, Node (the
// index build) loads its CommonJS build (lib/model/tokenizer.ts says why): both
// must turn every text into the same tokens, or queries and items would be
// embedded differently.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { prepareModel } from "../scripts/builder/embedding/node-model.ts";
import { HEADLINES_CSV } from "./helpers/build-fixtures.ts";

type TokenizerClass = new (vocabulary: unknown) => { encode(text: string): number[] };
const require = createRequire(import.meta.url);
/** The package's "module" entry, which the Worker's bundler takes (a variable: the package ships no types for it). */
const ESM_BUILD: string = "@tensorflow-models/universal-sentence-encoder/dist/universal-sentence-encoder.esm.js";

describe("USE tokenizer builds", () => {
  it("the ES module build (bundled into the Worker) encodes every headline and random unicode like the CommonJS build", async () => {
    const esm = (await import(ESM_BUILD)) as unknown as { Tokenizer: TokenizerClass };
    const cjs = require("@tensorflow-models/universal-sentence-encoder") as { Tokenizer: TokenizerClass };
    expect(esm.Tokenizer).not.toBe(cjs.Tokenizer);
    const { vocabulary } = await prepareModel();
    const worker = new esm.Tokenizer(vocabulary);
    const node = new cjs.Tokenizer(vocabulary);
    const headlines = readFileSync(HEADLINES_CSV, "utf8").split("\n").slice(1).map((line) => line.replace(/\r$/, "").split(",").slice(1).join(","));
    expect(headlines.length).toBeGreaterThan(1000);
    for (const text of headlines) expect(worker.encode(text), text).toEqual(node.encode(text));
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        expect(worker.encode(text)).toEqual(node.encode(text));
      }),
      { numRuns: 2000 },
    );
  });
});
