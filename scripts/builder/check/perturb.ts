// Self-check queries: corpus items with one small edit (a word dropped, two
// words swapped, or a word repeated), so they are near their item but are not
// exact copies of any vector in the index.
import { rng } from "../training/kernels.ts";

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

/** `count` distinct item rows, deterministic for a seed, with their perturbed texts. */
export function sampleQueries(texts: readonly string[], count: number, seed = 99): Array<{ row: number; text: string }> {
  const random = rng(seed);
  const rows = new Set<number>();
  const want = Math.min(count, texts.length);
  while (rows.size < want) rows.add(Math.floor(random() * texts.length));
  return [...rows].map((row) => ({ row, text: perturb(texts[row], random) }));
}
