// What a small corpus change rewrites: the 50k headlines' build is the base, a
// copy of the corpus with a share of its rows changed (CHANGE_SHARE) is built over it (as a deploy
// extending the live version builds), and the two versions' values are
// compared kind by kind. The change: the last rows are removed and as many
// rows elsewhere (seeded) are edited in place (their text gains a word, so they
// are new items with new embeddings). A CSV without an id column numbers its
// rows, so a row removed from the middle would renumber, and so change, every
// later item; an append-mostly corpus such as a news feed changes at its end.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { readManifest, artifactVersionValues } from "../artifacts/dir.ts";
import { runBuild } from "../builder/build.ts";
import { chooseChange, editedLine, readLines, rewritten } from "./corpus-change.ts";
import type { VersionValues } from "../../lib/index/version.ts";

export interface IncrementalReport {
  /** Rows of the base corpus, and how many the change removed and edited. */
  items: number;
  removed: number;
  edited: number;
  /** Per kind of value: how many the changed version has, and how many of those the base lacks (a deploy uploads them). */
  kinds: Array<{ kind: string; values: number; rewritten: number }>;
  /** The lexicon delta the build wrote, or null when it rewrote the main lexicon. */
  delta: { items: number; removed: number; terms: number; postings: number; values: number } | null;
}

/** The corpus with CHANGE_SHARE of its data rows changed (corpus-change.ts chooseChange): half removed from the end, half edited in place. */
async function changedCorpus(file: string, out: string): Promise<{ rows: number; removed: number; edited: number }> {
  const [header, ...data] = await readLines(file);
  const { kept, removed, edited } = chooseChange(data.length);
  await writeFile(out, [header, ...data.slice(0, kept).map((l, i) => (edited.has(i) ? editedLine(l) : l))].join("\n") + "\n");
  return { rows: data.length, removed, edited: edited.size };
}

function kindCounts(base: VersionValues, next: VersionValues): IncrementalReport["kinds"] {
  const fresh = rewritten(base, next);
  const kinds = ["routing", "catalog", "shards", "filters", "resident", "lexical", "items"] as const;
  return kinds.map((kind) => ({ kind, values: next[kind].length, rewritten: fresh.find((k) => k.kind === kind)!.values }));
}

export async function measureIncremental(headlines: string, baseDir: string, workDir: string, o: { threads?: number; log: (s: string) => void }): Promise<IncrementalReport> {
  await mkdir(workDir, { recursive: true });
  const corpus = path.join(workDir, "headlines-1pct-changed.csv");
  const change = await changedCorpus(headlines, corpus);
  const out = path.join(workDir, "incremental");
  await rm(out, { recursive: true, force: true });
  o.log(`incremental: ${change.removed} rows removed and ${change.edited} edited of ${change.rows}; building over the base`);
  const built = await runBuild({ corpus, out, base: baseDir, threads: o.threads, quiet: true });
  const [baseManifest, nextManifest] = await Promise.all([readManifest(baseDir), readManifest(out)]);
  const kinds = kindCounts(await artifactVersionValues(baseDir, baseManifest), await artifactVersionValues(out, nextManifest));
  const d = built.report.lexical.delta;
  return { items: change.rows, removed: change.removed, edited: change.edited, kinds, delta: d ? { items: d.items, removed: d.removed, terms: d.terms, postings: d.postings, values: d.values } : null };
}

export function incrementalMarkdown(r: IncrementalReport): string[] {
  const lines = [
    "## A 1% corpus change",
    "",
    `The 50k build is the base; its last ${r.removed} of ${r.items} rows are removed and ${r.edited} others edited in place (the text gains a word), and the changed corpus is built over the base, as a deploy that extends the live version does. Values of the new version the base lacks (what a deploy uploads), by kind:`,
    "",
    "| kind | values | rewritten | share |",
    "|---|---|---|---|",
    ...r.kinds.map((k) => `| ${k.kind} | ${k.values} | ${k.rewritten} | ${k.values ? ((100 * k.rewritten) / k.values).toFixed(1) : "0.0"}% |`),
    "",
    r.delta
      ? `The lexicon was kept and a delta written (format.ts §12): ${r.delta.items} items, ${r.delta.terms} terms, ${r.delta.postings} postings, ${r.delta.removed} removed keys, in ${r.delta.values} value(s).`
      : "The build rewrote the main lexicon (the delta would have passed its budget).",
    "",
  ];
  return lines;
}
