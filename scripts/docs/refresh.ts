// `npm run docs`: every docs/<name>.md that renders a docs/<name>.json is
// regenerated from it, and every figures block (figures.ts) in README.md and
// docs/*.md is re-rendered. What it writes is what test/docs-figures.test.ts checks.
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { renderReport } from "./reports.ts";
import { refreshFigureBlocks } from "./figures.ts";

/** The pages `npm run docs` owns: rendered reports, and pages holding figures blocks. */
export async function expectedDocs(root: string): Promise<Map<string, string>> {
  const docsDir = path.join(root, "docs");
  const out = new Map<string, string>();
  const names = await readdir(docsDir);
  for (const f of names.filter((n) => n.endsWith(".json")).sort()) {
    const name = f.slice(0, -".json".length);
    out.set(`docs/${name}.md`, await renderReport(docsDir, name));
  }
  const pages = ["README.md", ...names.filter((n) => n.endsWith(".md")).map((n) => `docs/${n}`)];
  for (const file of pages) {
    const text = out.get(file) ?? (await readFile(path.join(root, file), "utf8"));
    const refreshed = await refreshFigureBlocks(root, file, text);
    if (refreshed !== text || out.has(file)) out.set(file, refreshed);
  }
  return out;
}

/** Writes what expectedDocs says; returns the files that changed. */
export async function refreshDocs(root: string): Promise<string[]> {
  const changed: string[] = [];
  for (const [file, text] of await expectedDocs(root)) {
    const current = await readFile(path.join(root, file), "utf8").catch(() => null);
    if (current === text) continue;
    await writeFile(path.join(root, file), text);
    changed.push(file);
  }
  return changed;
}
