// Self-check queries, built from the corpus by fixed, seeded rules, so a build
// measures recall on queries it did not index:
//   perturbed — an item with one small edit (a word dropped, two words swapped,
//               or a word repeated): near its item, not an exact copy;
//   words     — about half of an item's words, content words first, in their
//               order: short and keyword-like, as users type, and farther from
//               any one item than a perturbed copy;
//   held-out  — an item's own vector with the item left out of the answer and
//               of the truth (check/self-check.ts): a new point drawn like the
//               corpus, which needs no text (--vectors builds and synthetic sets).
// The bench's queries (scripts/bench/queries.ts) use another seed, and its
// questions are written by hand: it stays a held-out set.
import { rng } from "../training/kernels.ts";

export type ProxyKind = "perturbed" | "words" | "held-out";

export interface ProxyQuery {
  row: number;
  kind: ProxyKind;
  /** The text to embed; absent for held-out items, whose vector is the item's own. */
  text?: string;
}

export function perturb(text: string, random: () => number): string {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length < 3) return `${text} news`;
  const i = Math.floor(random() * words.length);
  switch (Math.floor(random() * 3)) {
    case 0:
      words.splice(i, 1);
      break;
    case 1: {
      const j = i === words.length - 1 ? i - 1 : i + 1;
      [words[i], words[j]] = [words[j], words[i]];
      break;
    }
    default:
      words.splice(i, 0, words[i]);
  }
  return words.join(" ");
}

/** Function words a keyword query usually leaves out. */
const STOPWORDS = new Set(
  "a an the of to in on at for from by with and or but as is are was were be been has have had it its into over after before about up out off than that this these those not no new says say said will may can could would should".split(" "),
);

/**
 * About half of the text's words (⌈n/2⌉, at least two when it has three or
 * more), content words preferred, chosen by `random`, kept in their order.
 */
export function wordSubset(text: string, random: () => number): string {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length < 3) return words.join(" ");
  const want = Math.max(2, Math.ceil(words.length / 2));
  const content = words.map((w, i) => ({ w, i })).filter(({ w }) => !STOPWORDS.has(w.toLowerCase()) && w.length > 1);
  const rest = words.map((w, i) => ({ w, i })).filter((x) => !content.includes(x));
  const shuffled = (xs: Array<{ w: string; i: number }>) => xs.map((x) => ({ x, r: random() })).sort((a, b) => a.r - b.r).map((e) => e.x);
  const chosen = [...shuffled(content), ...shuffled(rest)].slice(0, want);
  return chosen.sort((a, b) => a.i - b.i).map((x) => x.w).join(" ");
}

/** `count` distinct item rows, deterministic for a seed, with their perturbed texts. */
export function sampleQueries(texts: readonly string[], count: number, seed = 99): Array<{ row: number; text: string }> {
  const random = rng(seed);
  return distinctRows(texts.length, count, random).map((row) => ({ row, text: perturb(texts[row], random) }));
}

function distinctRows(n: number, count: number, random: () => number): number[] {
  const rows = new Set<number>();
  const want = Math.min(count, n);
  while (rows.size < want) rows.add(Math.floor(random() * n));
  return [...rows];
}

/** The self-check's default seed for word subsets and held-out items (perturbed items keep sampleQueries' seed). */
export const PROXY_SEED = 31;

/**
 * `total` queries split evenly across the kinds (the first kinds take the
 * remainder), on distinct rows within a kind: perturbed items (sampleQueries'
 * rows), word subsets and held-out items. A text under three words makes no
 * word subset.
 */
export function proxyQueries(texts: readonly string[], total: number, kinds: readonly ProxyKind[] = ["perturbed", "words", "held-out"], seed = PROXY_SEED): ProxyQuery[] {
  const count = (kind: ProxyKind) => {
    const i = kinds.indexOf(kind);
    return i < 0 ? 0 : Math.floor(total / kinds.length) + (i < total % kinds.length ? 1 : 0);
  };
  const out: ProxyQuery[] = sampleQueries(texts, count("perturbed")).map((q) => ({ ...q, kind: "perturbed" }));
  const random = rng(seed);
  const long = count("words") ? texts.map((t, row) => ({ t, row })).filter((x) => x.t.split(/\s+/).filter(Boolean).length >= 3) : [];
  for (const i of distinctRows(long.length, count("words"), random)) out.push({ row: long[i].row, kind: "words", text: wordSubset(long[i].t, random) });
  for (const row of distinctRows(texts.length, count("held-out"), random)) out.push({ row, kind: "held-out" });
  return out;
}
