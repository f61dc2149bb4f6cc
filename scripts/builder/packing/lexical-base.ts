// A base version's main lexicon (format.ts §9–11), read back so that a build
// extending that version can keep it and write only a delta (§12): its values
// as they are stored, and the item keys its postings name.
import { decodeLexiconHead, decodeLexiconPart, decodePostingsTail, ITEM_KEY_BYTES, joinParts, lexiconPartKey, tailKey, textToBlob, type Postings } from "../../../lib/index/format.ts";
import type { Manifest, ManifestLexical } from "../../../lib/index/manifest.ts";
import { readTextsInBatches, type ReadTexts } from "../../../lib/index/version.ts";
import { textBlob, type TextBlob } from "./text-blob.ts";
import { KeyMap } from "../key-map.ts";

export interface LexicalBase {
  /** Its manifest entry, without the base's own delta (a new delta replaces it). */
  manifest: Omit<ManifestLexical, "delta">;
  head: TextBlob[];
  parts: TextBlob[];
  tails: TextBlob[];
  /** Decoded bytes of its head, and its postings (inline and tails). */
  headBytes: number;
  postings: number;
  /** Its head's N and Σ dl. */
  items: number;
  totalTerms: number;
  prefix: number;
  k1: number;
  b: number;
  /** The item keys its postings name: the items a delta need not hold. */
  keys: KeyMap;
}

function addKeys(keys: KeyMap, p: Postings): void {
  for (let e = 0; e < p.count; e++) keys.set(p.keys, e * ITEM_KEY_BYTES, 0);
}

/** The base's main lexicon, or undefined when the base has none. */
export async function loadLexicalBase(m: Manifest, read: ReadTexts): Promise<LexicalBase | undefined> {
  if (!m.lexical) return undefined;
  const { delta: _delta, ...manifest } = m.lexical;
  const headTexts = await readTextsInBatches(manifest.head.map((r) => r.key), read, `lexicon head part of version ${m.version}`);
  const headBytes = joinParts(headTexts);
  const head = decodeLexiconHead(headBytes);
  const partKeys = Array.from({ length: head.parts }, (_, p) => lexiconPartKey(head, p));
  const partTexts = await readTextsInBatches(partKeys, read, "lexicon part");
  const keys = new KeyMap(head.items);
  const tailKeys: string[] = [];
  let postings = 0;
  for (const t of partTexts) {
    const part = decodeLexiconPart(textToBlob(t));
    addKeys(keys, part.postings);
    postings += part.postings.count;
    for (let r = 0; r < part.tailTerm.length; r++) tailKeys.push(tailKey(part, r));
  }
  const tailTexts = await readTextsInBatches(tailKeys, read, "postings tail");
  for (const t of tailTexts) {
    const tail = decodePostingsTail(textToBlob(t));
    addKeys(keys, tail.postings);
    postings += tail.postings.count;
  }
  return {
    manifest,
    head: headTexts.map(textBlob),
    parts: partTexts.map(textBlob),
    tails: tailTexts.map(textBlob),
    headBytes: headBytes.length,
    postings,
    items: head.items,
    totalTerms: head.totalTerms,
    prefix: head.prefix,
    k1: head.k1,
    b: head.b,
    keys,
  };
}
