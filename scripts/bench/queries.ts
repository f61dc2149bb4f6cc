// The bench's query set. By default the project's own: the natural-language
// questions in bench/queries.txt plus perturbed corpus items (a word dropped,
// swapped or repeated; scripts/builder/check/perturb.ts), drawn with a seed different
// from the build's self-check so the bench does not grade the index on the
// queries that tuned it. `--queries FILE` replaces both with FILE's lines.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { sampleQueries } from "../builder/check/perturb.ts";
import { PROJECT_ROOT } from "../common/paths.ts";

export const QUESTIONS_FILE = path.join(PROJECT_ROOT, "bench", "queries.txt");
export const PERTURB_SEED = 2024;

export interface BenchQuery {
  text: string;
  kind: "question" | "perturbed" | "file";
  /** For perturbed items: the corpus row it came from. */
  row?: number;
}

export function parseQueryLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

export async function loadQueries(o: { file?: string; corpusTexts: readonly string[]; perturbed: number; questionsFile?: string }): Promise<BenchQuery[]> {
  if (o.file) {
    const lines = parseQueryLines(await readFile(o.file, "utf8"));
    if (lines.length === 0) throw new Error(`${o.file} holds no query`);
    return lines.map((text) => ({ text, kind: "file" }));
  }
  const questions = parseQueryLines(await readFile(o.questionsFile ?? QUESTIONS_FILE, "utf8")).map((text): BenchQuery => ({ text, kind: "question" }));
  const perturbed = sampleQueries(o.corpusTexts, o.perturbed, PERTURB_SEED).map(({ row, text }): BenchQuery => ({ text, kind: "perturbed", row }));
  return [...questions, ...perturbed];
}
