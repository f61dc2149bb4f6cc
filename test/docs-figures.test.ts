// The docs cannot disagree with the reports: every docs/<name>.md that renders a
// docs/<name>.json, and every figures table in README.md and docs/*.md, must be
// exactly what `npm run docs` makes from the JSON; every report says when, where
// and on what commit it was measured; every link from the README and docs/ resolves.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";
import { expectedDocs } from "../scripts/docs/refresh.ts";
import { refreshFigureBlocks } from "../scripts/docs/figures.ts";

/** The run's date, commit, machine and load, wherever a report's writer put them. */
function runInfo(r: any): Record<"date" | "commit" | "machine" | "load", unknown> {
  const m = r.meta ?? r;
  return {
    date: m.date ?? r.date,
    commit: m.commit ?? m.git?.commit ?? (typeof m.git === "string" ? m.git : undefined) ?? r.commit,
    machine: m.machine ?? m.cpu ?? r.machine,
    load: m.load ?? m.machine?.loadAvg ?? r.load?.machineLoad,
  };
}

describe("docs and reports", () => {
  it("every rendered report and figures table is what the JSON says (npm run docs)", async () => {
    const expected = await expectedDocs(PROJECT_ROOT);
    expect(expected.size).toBeGreaterThan(0);
    for (const [file, text] of expected) {
      const current = await readFile(path.join(PROJECT_ROOT, file), "utf8");
      expect(current, `${file} disagrees with its report: run npm run docs`).toBe(text);
    }
  });

  it("a figures block that was edited by hand is caught", async () => {
    const readme = await readFile(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const block = /<!-- figures:([a-z0-9-]+) -->\n\| figure[^\n]*\n[^\n]*\n\|[^|]*\| ([^|]+) \|/.exec(readme);
    expect(block, "README.md has a figures block").not.toBeNull();
    const tampered = readme.replace(block![0], block![0].replace(`| ${block![2]} |`, "| 0.123 |"));
    expect(await refreshFigureBlocks(PROJECT_ROOT, "README.md", tampered)).toBe(readme);
  });

  it("every report records its date, commit, machine and load", async () => {
    for (const f of (await readdir(path.join(PROJECT_ROOT, "docs"))).filter((n) => n.endsWith(".json"))) {
      const info = runInfo(JSON.parse(await readFile(path.join(PROJECT_ROOT, "docs", f), "utf8")));
      for (const [k, v] of Object.entries(info)) expect(v, `docs/${f} lacks its run's ${k}`).toBeTruthy();
      expect(String(info.commit), `docs/${f}: commit`).toMatch(/^[0-9a-f]{7,40}$/);
    }
  });

  it("every relative link in README.md and docs/*.md points at a file that exists", async () => {
    const pages = ["README.md", ...(await readdir(path.join(PROJECT_ROOT, "docs"))).filter((n) => n.endsWith(".md")).map((n) => `docs/${n}`)];
    for (const page of pages) {
      const text = await readFile(path.join(PROJECT_ROOT, page), "utf8");
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(m[1])) continue;
        expect(existsSync(path.join(PROJECT_ROOT, path.dirname(page), m[1])), `${page} links to ${m[1]}`).toBe(true);
      }
    }
  });

  it("the README is a product page: at most 200 lines, the two commands first, no run metadata", async () => {
    const readme = await readFile(path.join(PROJECT_ROOT, "README.md"), "utf8");
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
    expect(readme.trimStart().startsWith("```sh\nnpm ci && npm start")).toBe(true);
    expect(readme.slice(0, 300)).toContain("npm test");
    expect(readme).not.toMatch(/\bcommit [0-9a-f]{7,40}\b|load average|\b\d{1,2}:\d{2}[–-]\d{1,2}:\d{2}\b/);
  });
});
