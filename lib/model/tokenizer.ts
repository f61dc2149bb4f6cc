// The SentencePiece-style tokenizer USE-lite was trained with, shared by the
// build (Node) and the Worker (workerd), and the sparse `indices`/`values`
// inputs the graph expects.
//
// It reproduces, token for token, `Tokenizer.encode` of
// @tensorflow-models/universal-sentence-encoder (a port of SentencePiece's
// EncodeAsIds: NFKC, "▁" for spaces, Viterbi over the vocabulary's pieces),
// including its quirks: symbols are UTF-16 code units, an unknown symbol is a
// one-unit piece of score 0, ties go to the later arc, the backward pass steps
// by the vocabulary string's length, and runs of unknowns merge into one.
// What it does not reproduce is the package's cost: it sliced the input at
// every position (quadratic in the text's length, so a legal query of
// characters that NFKC expands cost far too much CPU;
// docs/decisions.md#own-tokenizer) and built the whole lattice first. Here the
// trie is walked from an offset and arcs are relaxed as they are found, so a
// text costs its length times the longest piece. test/tokenizer-equal.test.ts
// proves the two equal.

export type Vocabulary = Array<[string, number]>;

export interface SparseBatch {
  /** [row, position] pairs, flattened: length 2 * values.length. */
  indices: Int32Array;
  values: Int32Array;
  rows: number;
}

const SEPARATOR = "\u2581";
/** The vocabulary's first pieces are unk, control and user-defined symbols, never matched. */
const RESERVED_SYMBOLS = 6;
const UNKNOWN = 0;

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Vocabulary index of the piece ending here, or -1. */
  index: number;
  score: number;
}

const newNode = (): TrieNode => ({ children: new Map(), index: -1, score: 0 });

/** What SentencePiece sees: NFKC, spaces as "▁", one leading "▁" (nothing for an empty text). */
export function processInput(text: string): string {
  const normalized = text.normalize("NFKC");
  return normalized.length > 0 ? SEPARATOR + normalized.replace(/ /g, SEPARATOR) : normalized;
}

export class UseTokenizer {
  private readonly root = newNode();
  /** Each piece's length in UTF-16 units, by vocabulary index (the backward pass steps by it). */
  private readonly pieceLength: Int32Array;

  constructor(vocabulary: Vocabulary) {
    this.pieceLength = Int32Array.from(vocabulary, ([piece]) => piece.length);
    for (let i = RESERVED_SYMBOLS; i < vocabulary.length; i++) {
      const [piece, score] = vocabulary[i];
      if (piece.length === 0) continue;
      let node = this.root;
      for (let j = 0; j < piece.length; j++) {
        const unit = piece.charCodeAt(j);
        let next = node.children.get(unit);
        if (!next) node.children.set(unit, (next = newNode()));
        node = next;
      }
      // A repeated piece keeps its last index, as the package's trie does.
      node.index = i;
      node.score = score;
    }
  }

  /** The token ids of one text. */
  encode(text: string): number[] {
    return this.encodeUpTo(text, Infinity) as number[];
  }

  /**
   * The token ids of one text, or null as soon as it is known to hold more than
   * `cap` tokens. The lattice walk is linear in the text; the cap stops the
   * backward pass and spares the caller the array.
   */
  encodeUpTo(text: string, cap: number): number[] | null {
    const input = processInput(text);
    const n = input.length;
    // best[e]: the best score of a segmentation of input[0, e); 0 means none yet (the package's sentinel).
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const relax = (end: number, score: number, index: number) => {
      if (best[end] === 0 || score >= best[end]) {
        best[end] = score;
        words[end] = index;
      }
    };
    for (let i = 0; i < n; i++) {
      // Arcs into `end` arrive in ascending start order, as the package's lattice visits them, so ties resolve alike.
      const base = best[i];
      let node = this.root.children.get(input.charCodeAt(i));
      let matched = false;
      for (let j = i; node !== undefined; ) {
        if (node.index >= 0) {
          matched = true;
          relax(j + 1, node.score + base, node.index);
        }
        if (++j >= n) break;
        node = node.children.get(input.charCodeAt(j));
      }
      if (!matched) relax(i + 1, base, UNKNOWN);
    }
    // Backward pass; consecutive unknowns merge into one token.
    const reversed: number[] = [];
    let previousUnknown = false;
    for (let at = n; at > 0; at -= this.pieceLength[words[at]]) {
      const id = words[at];
      if (!(previousUnknown && id === UNKNOWN)) {
        reversed.push(id);
        if (reversed.length > cap) return null;
      }
      previousUnknown = id === UNKNOWN;
    }
    return reversed.reverse();
  }

  encodeBatch(texts: readonly string[]): SparseBatch {
    return sparseBatch(texts.map((t) => this.encode(t)));
  }
}

/** The graph's sparse input for texts already encoded. */
export function sparseBatch(encodings: readonly (readonly number[])[]): SparseBatch {
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
  return { indices, values, rows: encodings.length };
}

/** A request's texts encoded, each once, or where they passed the token cap. */
export type Tokenized = { ok: true; encodings: number[][]; tokens: number } | { ok: false; cap: number };

/**
 * Encodes texts in order until their total passes `cap`: the text that passes
 * it is not finished and the texts after it are not started, so a refused
 * request costs at most the cap's worth of work past its last whole text.
 */
export function tokenizeWithin(tokenizer: UseTokenizer, texts: readonly string[], cap: number): Tokenized {
  const encodings: number[][] = [];
  let tokens = 0;
  for (const text of texts) {
    const e = tokenizer.encodeUpTo(text, cap - tokens);
    if (e === null) return { ok: false, cap };
    encodings.push(e);
    tokens += e.length;
  }
  return { ok: true, encodings, tokens };
}
