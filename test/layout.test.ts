// The layout's promises, checked on the source: data flows one way with no import
// cycles (type-only imports included), no module imports a command-line entry or
// a command, one definition each of the project root and of percentile, and no
// function in lib/, functions/ or scripts/ longer than 60 lines.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../scripts/common/paths.ts";

const ROOTS = ["lib", "functions", "scripts", "test"];
const SKIP_DIRS = new Set(["node_modules", "fixtures", "generated"]);
const MAX_FUNCTION_LINES = 60;

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(rel);
      } else if (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) out.push(rel);
    }
  };
  ROOTS.forEach(walk);
  return out;
}

const FILES = sources();
const parsed = new Map(FILES.map((f) => [f, ts.createSourceFile(f, readFileSync(path.join(PROJECT_ROOT, f), "utf8"), ts.ScriptTarget.Latest, true)]));

/** Relative imports and re-exports (type-only ones too), resolved to project files. */
function importsOf(file: string): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node) => {
    const spec =
      (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)
        ? n.moduleSpecifier.text
        : ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(n.arguments[0])
          ? (n.arguments[0] as ts.StringLiteral).text
          : null;
    if (spec?.startsWith(".")) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, ".ts");
      if (parsed.has(target)) out.push(target);
    }
    ts.forEachChild(n, visit);
  };
  visit(parsed.get(file)!);
  return out;
}

const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

/** Strongly connected components of more than one file (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const connect = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of GRAPH.get(v) ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const f of FILES) if (!idx.has(f)) connect(f);
  return out;
}

describe("layout", () => {
  it("has no import cycles, type-only imports included", () => {
    expect(GRAPH.size).toBeGreaterThan(100);
    expect(cycles()).toEqual([]);
  });

  it("imports no command-line entry anywhere, and commands only from their entries and tests", () => {
    const entries = FILES.filter((f) => /^scripts\/[^/]+\.ts$/.test(f));
    expect(entries).toContain("scripts/build.ts");
    const offenders: string[] = [];
    for (const [file, deps] of GRAPH) {
      for (const d of deps) {
        if (entries.includes(d)) offenders.push(`${file} → ${d}`);
        if (d.startsWith("scripts/commands/") && !entries.includes(file) && !file.startsWith("test/")) offenders.push(`${file} → ${d}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("defines the project root and percentile once", () => {
    const defining = (re: RegExp) => FILES.filter((f) => re.test(parsed.get(f)!.text));
    expect(defining(/\b(const|let|var)\s+PROJECT_ROOT\s*=/)).toEqual(["scripts/common/paths.ts"]);
    expect(defining(/\bfunction\s+percentile\s*\(|\bconst\s+percentile\s*=/)).toEqual(["scripts/bench/stats.ts"]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines in lib/, functions/ or scripts/`, () => {
    const long: string[] = [];
    for (const [file, sf] of parsed) {
      if (file.startsWith("test/")) continue;
      const visit = (n: ts.Node) => {
        if (ts.isFunctionLike(n) && "body" in n && n.body) {
          const lines = sf.getLineAndCharacterOfPosition(n.end).line - sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
          if (lines > MAX_FUNCTION_LINES) long.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} (${lines} lines)`);
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(long).toEqual([]);
  });
});
