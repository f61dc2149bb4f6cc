// Tokenizer glue shared by the build (Node) and the Worker (workerd): the same
// SentencePiece-style tokenizer the USE-lite graph was trained with, turned into
// the sparse `indices`/`values` inputs the graph expects.
// The package root, not dist/tokenizer/index.js: that file is CommonJS and
// require()s tfjs-core, which made the Worker's bundler take tfjs-core's CommonJS
// build for every importer, wrapping it in ~190 copies of its namespace (53,000
// getters, ~5.7 MiB of the isolate's JS heap). The bundler now takes the
// package's ES module build (and tfjs-core's); Node takes its CommonJS main. The
// two Tokenizer builds encode alike (test/tokenizer-builds.test.ts).
import { Tokenizer } from "@tensorflow-models/universal-sentence-encoder";

export type Vocabulary = Array<[string, number]>;

export interface SparseBatch {
  /** [row, position] pairs, flattened: length 2 * values.length. */
  indices: Int32Array;
  values: Int32Array;
  rows: number;
}

export class UseTokenizer {
  private readonly inner: Tokenizer;
  constructor(vocabulary: Vocabulary) {
    this.inner = new Tokenizer(vocabulary);
  }

  encode(text: string): number[] {
    return this.inner.encode(text);
  }

  encodeBatch(texts: readonly string[]): SparseBatch {
    const encodings = texts.map((t) => this.inner.encode(t));
    let total = 0;
    for (const e of encodings) total += e.length;
    const indices = new Int32Array(total * 2);
    const values = new Int32Array(total);
    let o = 0;
    encodings.forEach((tokens, row) => {
      for (let i = 0; i < tokens.length; i++, o++) {
        indices[2 * o] = row;
        indices[2 * o + 1] = i;
        values[o] = tokens[i];
      }
    });
    return { indices, values, rows: texts.length };
  }
}
