// The lexical index's values (format.ts, sections 9–12): each one's encoder and
// decoder round-trip, and the decoders refuse what is not theirs.
import { describe, expect, it } from "vitest";
import {
  decodeLexiconDelta,
  decodeLexiconHead,
  decodeLexiconPart,
  decodePostingsTail,
  encodeLexiconDelta,
  encodeLexiconHead,
  encodeLexiconPart,
  encodePostingsTail,
  findLexiconTerm,
  FormatError,
  isRemoved,
  lexiconPartOf,
  lexiconTerm,
  termPrefix,
  termTail,
  type LexiconPartInput,
  type Postings,
} from "../lib/index/format.ts";
import { termHash } from "../lib/lexical/bm25.ts";

function postings(n: number, seed: number): Postings {
  const p: Postings = { count: n, keys: new Uint8Array(n * 8), dl: new Uint16Array(n), tf: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < 8; b++) p.keys[i * 8 + b] = (seed * 31 + i * 7 + b) & 255;
    p.dl[i] = 3 + ((seed + i) % 300);
    p.tf[i] = 1 + ((seed + i) % 3);
  }
  return p;
}

function partInput(): LexiconPartInput {
  const terms = ["flood", "polic", "2003", "zürich", "東京"].map((text) => ({ text, hash: termHash(text) })).sort((a, b) => a.hash - b.hash);
  return {
    terms: terms.map((t, i) => ({
      ...t,
      df: 3 + i + (i === 1 ? 40 : 0),
      postings: postings(3 + i, i),
      tail: i === 1 ? { bytes: 1234, count: 40, sha: Uint8Array.from({ length: 16 }, (_, b) => b + 1) } : null,
    })),
  };
}

describe("lexicon part", () => {
  it("round-trips every term: text, df, inline postings, tail", () => {
    const input = partInput();
    const part = decodeLexiconPart(encodeLexiconPart(input));
    expect(part.terms).toBe(input.terms.length);
    input.terms.forEach((t, i) => {
      expect(lexiconTerm(part, i)).toBe(t.text);
      expect(findLexiconTerm(part, t.text, t.hash)).toBe(i);
      expect(part.df[i]).toBe(t.df);
      const p = termPrefix(part, i);
      expect([...p.keys]).toEqual([...t.postings.keys]);
      expect([...p.dl]).toEqual([...t.postings.dl]);
      expect([...p.tf]).toEqual([...t.postings.tf]);
      const r = termTail(part, i);
      if (t.tail) {
        expect(part.tailBytes[r]).toBe(1234);
        expect(part.tailCount[r]).toBe(40);
        expect([...part.tailHashes.subarray(r * 16, r * 16 + 16)]).toEqual([...t.tail.sha]);
      } else expect(r).toBe(-1);
    });
    expect(findLexiconTerm(part, "absent", termHash("absent"))).toBe(-1);
  });

  it("decodes from an unaligned copy", () => {
    const bytes = encodeLexiconPart(partInput());
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    expect(lexiconTerm(decodeLexiconPart(shifted), 0)).toBe(lexiconTerm(decodeLexiconPart(bytes), 0));
  });

  it("refuses a bad magic, a wrong length, unsorted terms, tf 0 and more postings than df", () => {
    const bytes = encodeLexiconPart(partInput());
    const bad = bytes.slice();
    bad[0] ^= 1;
    expect(() => decodeLexiconPart(bad)).toThrow(/magic/);
    expect(() => decodeLexiconPart(bytes.subarray(0, bytes.length - 1))).toThrow(FormatError);
    expect(() => decodeLexiconPart(new Uint8Array(10))).toThrow(/truncated/);
    const input = partInput();
    expect(() => encodeLexiconPart({ terms: [...input.terms].reverse() })).toThrow(/sorted/);
    const zero = partInput();
    zero.terms[0].postings.tf[0] = 0;
    expect(() => encodeLexiconPart(zero)).toThrow(/tf 0/);
    const over = partInput();
    over.terms[0].df = 1;
    expect(() => encodeLexiconPart(over)).toThrow(/more postings than its df/);
  });
});

describe("lexicon head", () => {
  const head = {
    parts: 3,
    items: 2000,
    prefix: 128,
    totalTerms: 12345,
    k1: 1.2,
    b: 0.75,
    firstHash: Uint32Array.from([0, 1000, 900000]),
    partBytes: Uint32Array.from([10, 20, 30]),
    partHashes: Uint8Array.from({ length: 48 }, (_, i) => i),
  };

  it("round-trips, and finds each hash's part", () => {
    const h = decodeLexiconHead(encodeLexiconHead(head));
    expect(h.items).toBe(2000);
    expect(h.prefix).toBe(128);
    expect(h.totalTerms).toBe(12345);
    expect(h.k1).toBeCloseTo(1.2, 6);
    expect(h.b).toBe(0.75);
    expect([...h.partBytes]).toEqual([10, 20, 30]);
    expect([...h.partHashes]).toEqual([...head.partHashes]);
    expect([0, 999, 1000, 899999, 900000, 0xffffffff].map((x) => lexiconPartOf(h, x))).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("refuses a bad magic, a wrong length, part hashes that do not ascend, and b outside 0..1", () => {
    const bytes = encodeLexiconHead(head);
    const bad = bytes.slice();
    bad[1] ^= 1;
    expect(() => decodeLexiconHead(bad)).toThrow(/magic/);
    expect(() => decodeLexiconHead(bytes.subarray(0, bytes.length - 4))).toThrow(/expected/);
    expect(() => encodeLexiconHead({ ...head, firstHash: Uint32Array.from([0, 5, 5]) })).toThrow(/ascend/);
    expect(() => decodeLexiconHead(encodeLexiconHead({ ...head, b: 1.5 }))).toThrow(/out of range/);
  });
});

describe("postings tail", () => {
  it("round-trips and refuses a wrong length or a bad magic", () => {
    const p = postings(17, 5);
    const bytes = encodePostingsTail({ termHash: 42, postings: p });
    const t = decodePostingsTail(bytes);
    expect(t.termHash).toBe(42);
    expect([...t.postings.keys]).toEqual([...p.keys]);
    expect([...t.postings.dl]).toEqual([...p.dl]);
    expect([...t.postings.tf]).toEqual([...p.tf]);
    expect(() => decodePostingsTail(bytes.subarray(0, bytes.length - 1))).toThrow(/expected/);
    const bad = bytes.slice();
    bad[3] ^= 1;
    expect(() => decodePostingsTail(bad)).toThrow(/magic/);
  });
});

describe("lexicon delta", () => {
  const removed = Uint8Array.from([...[0, 0, 0, 0, 0, 0, 0, 9], ...[1, 2, 3, 4, 5, 6, 7, 8], ...[200, 0, 0, 0, 0, 0, 0, 0]]);
  const inline = (): LexiconPartInput => ({ terms: partInput().terms.map((t) => ({ ...t, df: t.postings.count, tail: null })) });
  const delta = () => ({ items: 2100, totalTerms: 15000.5, deltaItems: 7, removed, part: inline() });

  it("round-trips N, Σ dl, removed keys and its part; finds a removed key and no other", () => {
    const d = decodeLexiconDelta(encodeLexiconDelta(delta()));
    expect([d.items, d.totalTerms, d.deltaItems]).toEqual([2100, 15000.5, 7]);
    expect([...d.removed]).toEqual([...removed]);
    const input = inline();
    input.terms.forEach((t, i) => {
      expect(findLexiconTerm(d.part, t.text, t.hash)).toBe(i);
      expect([...termPrefix(d.part, i).keys]).toEqual([...t.postings.keys]);
    });
    expect([0, 1, 2].map((j) => isRemoved(d, removed, j))).toEqual([true, true, true]);
    const other = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect([0, 1].map((j) => isRemoved(d, other, j))).toEqual([false, false]);
  });

  it("refuses a bad magic, removed keys out of order, a tail, a short value, and more delta items than items", () => {
    const bytes = encodeLexiconDelta(delta());
    const bad = bytes.slice();
    bad[0] ^= 1;
    expect(() => decodeLexiconDelta(bad)).toThrow(/magic/);
    expect(() => encodeLexiconDelta({ ...delta(), removed: Uint8Array.from([...removed.subarray(8, 16), ...removed.subarray(0, 8)]) })).toThrow(/ascend/);
    expect(() => encodeLexiconDelta({ ...delta(), removed: removed.subarray(0, 12) })).toThrow(/8 bytes/);
    expect(() => encodeLexiconDelta({ ...delta(), part: partInput() })).toThrow(/no tails/);
    expect(() => decodeLexiconDelta(bytes.subarray(0, bytes.length - 1))).toThrow(FormatError);
    expect(() => decodeLexiconDelta(bytes.subarray(0, 30))).toThrow(/too short/);
    expect(() => decodeLexiconDelta(encodeLexiconDelta({ ...delta(), deltaItems: 3000 }))).toThrow(/out of range/);
  });
});
